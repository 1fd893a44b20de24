// Shared by the CPU kernels: float32 / bfloat16 element access with float math.
#pragma once
#include <torch/extension.h>
#include <cstdint>
#include <cstring>

namespace netspace {

template <typename T> struct IO;
template <> struct IO<float> {
  using raw = float;
  static inline float load(raw v) { return v; }
  static inline raw store(float f) { return f; }
};
template <> struct IO<at::BFloat16> {
  using raw = uint16_t;
  static inline float load(raw v) { uint32_t u = uint32_t(v) << 16; float f; std::memcpy(&f, &u, 4); return f; }
  static inline raw store(float f) {
    uint32_t u; std::memcpy(&u, &f, 4);
    uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return raw((u & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC0u : r);  // NaN stays NaN
  }
};

// Runs f with a tag of the tensor's element type (bfloat16 or float32).
template <typename F> auto dispatch(at::ScalarType t, F f) {
  if (t == at::kBFloat16) return f(at::BFloat16{});
  return f(float{});
}

}  // namespace netspace
