// Shared by the CPU kernels: float32 / bfloat16 element access with float math.
#pragma once
#include <torch/extension.h>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <type_traits>
#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

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

// dst[j] = T(value(j)) for j < n. The values are computed into a float buffer a chunk at a
// time, then stored; where the CPU converts to bfloat16 natively (AVX512-BF16) the store is
// that instruction (round to nearest even, as IO::store; it also flushes float32 denormals,
// below 1.2e-38, to zero), else IO::store, vectorized.
template <typename T, typename F>
inline void store_row(typename IO<T>::raw* __restrict dst, int64_t n, F value) {
  if constexpr (std::is_same_v<T, float>) {
    for (int64_t j = 0; j < n; ++j) dst[j] = value(j);
  } else {
    constexpr int64_t kChunk = 256;
    alignas(64) float buf[kChunk];
    for (int64_t j0 = 0; j0 < n; j0 += kChunk) {
      const int64_t m = std::min<int64_t>(kChunk, n - j0);
      for (int64_t j = 0; j < m; ++j) buf[j] = value(j0 + j);
      int64_t j = 0;
#if defined(__AVX512BF16__) && defined(__AVX512F__)
      for (; j + 16 <= m; j += 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j0 + j),
                            reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_load_ps(buf + j))));
#endif
      for (; j < m; ++j) dst[j0 + j] = IO<T>::store(buf[j]);
    }
  }
}

// Runs f with a tag of the tensor's element type (bfloat16 or float32).
template <typename F> auto dispatch(at::ScalarType t, F f) {
  if (t == at::kBFloat16) return f(at::BFloat16{});
  return f(float{});
}

}  // namespace netspace
