// Depthwise k x k convolution gradients on CPU, channels_last.
//
// oneDNN's depthwise backward is very slow for some shapes on CPU: the input
// gradient in bf16 at stride 2, the weight gradient with 5x5 kernels or at
// 2x2 spatial size (20-500x slower than the loops here), and MBConv networks
// are made of these convs. Its forward pass and its other gradients are fast and
// stay in use (netspace.models.fused picks per pass). A channels_last tensor keeps
// a pixel's C channels contiguous, so each loop here runs over pixels, then the
// k*k taps, then channels innermost, which vectorizes.
// Values float32 or bfloat16; weights (k*k, C) float32; math float32.
// With y[n,o,q,c] = sum_{i,j} x[n, o*s-p+i, q*s-p+j, c] * w[i,j,c]:
//   dgrad: gathered per input pixel from the outputs whose window covers it;
//   wgrad: per-thread float sums per output row, moved into double.
#include "common.h"

#include <ATen/Parallel.h>
#include <algorithm>
#include <vector>

namespace {

using netspace::IO;
using netspace::dispatch;

struct Geometry {
  int64_t N, H, W, C, k, s, p, Ho, Wo;
};

Geometry geometry(const torch::Tensor& x, int64_t k, int64_t s, int64_t p) {
  Geometry g{x.size(0), x.size(2), x.size(3), x.size(1), k, s, p, 0, 0};
  g.Ho = (g.H + 2 * p - k) / s + 1;
  g.Wo = (g.W + 2 * p - k) / s + 1;
  return g;
}

template <typename T>
void dgrad(const typename IO<T>::raw* __restrict gy, const float* __restrict w, typename IO<T>::raw* __restrict dx,
           const Geometry& g) {
  const int64_t C = g.C;
  at::parallel_for(0, g.N * g.H, 1, [&](int64_t b, int64_t e) {
    std::vector<float> buf(C);
    float* __restrict acc = buf.data();
    for (int64_t row = b; row < e; ++row) {
      const int64_t n = row / g.H, h = row % g.H;
      for (int64_t v = 0; v < g.W; ++v) {
        for (int64_t c = 0; c < C; ++c) acc[c] = 0.f;
        for (int64_t i = 0; i < g.k; ++i) {
          const int64_t t = h + g.p - i;  // = o * s for the output row o that uses tap i here
          if (t < 0 || t % g.s != 0 || t / g.s >= g.Ho) continue;
          const int64_t o = t / g.s;
          for (int64_t j = 0; j < g.k; ++j) {
            const int64_t u = v + g.p - j;
            if (u < 0 || u % g.s != 0 || u / g.s >= g.Wo) continue;
            const typename IO<T>::raw* __restrict gr = gy + ((n * g.Ho + o) * g.Wo + u / g.s) * C;
            const float* __restrict wr = w + (i * g.k + j) * C;
            for (int64_t c = 0; c < C; ++c) acc[c] += IO<T>::load(gr[c]) * wr[c];
          }
        }
        typename IO<T>::raw* __restrict dr = dx + ((n * g.H + h) * g.W + v) * C;
        for (int64_t c = 0; c < C; ++c) dr[c] = IO<T>::store(acc[c]);
      }
    }
  });
}

template <typename T>
void wgrad(const typename IO<T>::raw* __restrict gy, const typename IO<T>::raw* __restrict x, float* dw,
           const Geometry& g) {
  const int64_t C = g.C, KC = g.k * g.k * C;
  const int nt = at::get_num_threads();
  std::vector<double> partial(nt * KC, 0.0);
  at::parallel_for(0, g.N * g.Ho, 1, [&](int64_t b, int64_t e) {
    double* __restrict mine = partial.data() + at::get_thread_num() * KC;
    std::vector<float> buf(KC);
    float* __restrict acc = buf.data();
    for (int64_t row = b; row < e; ++row) {
      const int64_t n = row / g.Ho, o = row % g.Ho;
      std::fill(buf.begin(), buf.end(), 0.f);
      for (int64_t q = 0; q < g.Wo; ++q) {
        const typename IO<T>::raw* __restrict gr = gy + ((n * g.Ho + o) * g.Wo + q) * C;
        for (int64_t i = 0; i < g.k; ++i) {
          const int64_t h = o * g.s - g.p + i;
          if (h < 0 || h >= g.H) continue;
          for (int64_t j = 0; j < g.k; ++j) {
            const int64_t v = q * g.s - g.p + j;
            if (v < 0 || v >= g.W) continue;
            const typename IO<T>::raw* __restrict xr = x + ((n * g.H + h) * g.W + v) * C;
            float* __restrict ar = acc + (i * g.k + j) * C;
            for (int64_t c = 0; c < C; ++c) ar[c] += IO<T>::load(gr[c]) * IO<T>::load(xr[c]);
          }
        }
      }
      for (int64_t t = 0; t < KC; ++t) mine[t] += acc[t];
    }
  });
  for (int64_t t = 0; t < KC; ++t) {
    double total = 0.0;
    for (int r = 0; r < nt; ++r) total += partial[r * KC + t];
    dw[t] = float(total);
  }
}

}  // namespace

// gy: the output gradient, x: the input (for its shape and type), w: (k*k, C) float32 taps.
torch::Tensor dw_input_grad(torch::Tensor gy, torch::Tensor x, torch::Tensor w, int64_t k, int64_t stride,
                            int64_t padding) {
  const Geometry g = geometry(x, k, stride, padding);
  auto dx = torch::empty_like(x);
  dispatch(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag); using raw = typename IO<T>::raw;
    dgrad<T>(reinterpret_cast<const raw*>(gy.data_ptr()), w.data_ptr<float>(), reinterpret_cast<raw*>(dx.data_ptr()), g);
    return 0;
  });
  return dx;
}

// The weight gradient as (k*k, C) float32.
torch::Tensor dw_weight_grad(torch::Tensor gy, torch::Tensor x, int64_t k, int64_t stride, int64_t padding) {
  const Geometry g = geometry(x, k, stride, padding);
  auto dw = torch::empty({k * k, g.C}, x.options().dtype(torch::kFloat));
  dispatch(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag); using raw = typename IO<T>::raw;
    wgrad<T>(reinterpret_cast<const raw*>(gy.data_ptr()), reinterpret_cast<const raw*>(x.data_ptr()),
             dw.data_ptr<float>(), g);
    return 0;
  });
  return dw;
}
