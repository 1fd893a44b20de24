// Fused batch norm (+ shortcut) (+ ReLU) for training on CPU, channels_last.
//
// A channels_last (N, C, H, W) tensor is an (M, C) matrix in memory with M = N*H*W.
// Forward: one pass for per-channel sums, one pass writing act(x * scale + shift [+ r]).
// Backward: one pass for the two per-channel sums (of g' and of g' * (x - mean), g' the
// gradient through the activation), one pass writing dx; the activation's input is
// recomputed from x instead of being stored (after a shortcut, the ReLU mask is y > 0).
// Values are float32 or bfloat16 (math in float32, sums in double across chunks).
// Built on first use by netspace.models.fused (bindings in bindings.cpp).
#include "common.h"

#include <ATen/Parallel.h>
#include <algorithm>
#include <numeric>
#include <type_traits>
#include <vector>
#include <cmath>

namespace {

using netspace::IO;
using netspace::dispatch;
using netspace::store_row;

enum Act : int { kNone = 0, kRelu = 1 };

template <int A> inline float activate(float z) {
  if constexpr (A == kRelu) return z < 0.f ? 0.f : z;  // NaN stays NaN
  else return z;
}

// d act(z) / dz times g.
template <int A> inline float act_grad(float z, float g) {
  if constexpr (A == kRelu) return z > 0.f ? g : 0.f;
  else return g;
}

// Runs f with the activation as a compile-time constant.
template <typename F> auto with_act(int64_t act, F f) {
  if (act == kRelu) return f(std::integral_constant<int, kRelu>{});
  return f(std::integral_constant<int, kNone>{});
}

// Rows are grouped k at a time into "super-rows" of L = k*C values,
// L a multiple of 32, so every inner loop runs over whole SIMD vectors, and at least 512 where
// there are rows enough (short inner loops cost more in loop overhead than in arithmetic: at
// 8 channels, 32-value super-rows made the forward 1.5x slower); per-channel vectors
// are tiled to length L. Rows that do not fill a super-row go through the same loops with L = C.
struct Layout {
  int64_t C, M, k, L, S, grain;  // S super-rows, then M - S*k single rows
  Layout(int64_t C_, int64_t M_) : C(C_), M(M_) {
    k = 32 / std::gcd<int64_t>(C, 32);
    while (k * C < 512 && M / (2 * k) >= 16) k *= 2;
    L = k * C; S = M / k;
    grain = std::max<int64_t>(16, (int64_t(1) << 16) / L);  // >= 64K values per thread's chunk
  }
  std::vector<float> tile(const std::vector<float>& v) const {
    std::vector<float> t(L);  // k copies of v (no per-element modulo: at small sizes it showed in profiles)
    for (int64_t j0 = 0; j0 < L; j0 += C) std::copy(v.begin(), v.begin() + C, t.begin() + j0);
    return t;
  }
};

// Per-channel sums of two quantities over all super-rows, folded to length C: row(r, s, q)
// adds super-row r's values into the float accumulators s and q (length L), which move
// into double every 16 rows; each thread keeps its own, so the result does not depend
// on timing.
template <typename RowFn>
void column_sums(const Layout& lay, RowFn row, std::vector<double>& s1, std::vector<double>& s2) {
  const int64_t L = lay.L, C = lay.C;
  const int nt = at::get_num_threads();
  std::vector<double> ps(nt * L, 0.0), pq(nt * L, 0.0);
  at::parallel_for(0, lay.S, lay.grain, [&](int64_t b, int64_t e) {
    double* __restrict ds = ps.data() + at::get_thread_num() * L;
    double* __restrict dq = pq.data() + at::get_thread_num() * L;
    std::vector<float> fs(L), fq(L);
    float* __restrict s = fs.data(); float* __restrict q = fq.data();
    for (int64_t r0 = b; r0 < e; r0 += 16) {
      const int64_t r1 = std::min(e, r0 + 16);
      for (int64_t j = 0; j < L; ++j) { s[j] = 0.f; q[j] = 0.f; }
      for (int64_t r = r0; r < r1; ++r) row(r, s, q);
      for (int64_t j = 0; j < L; ++j) { ds[j] += s[j]; dq[j] += q[j]; }
    }
  });
  s1.assign(C, 0.0); s2.assign(C, 0.0);
  for (int t = 0; t < nt; ++t)
    for (int64_t j0 = 0; j0 < L; j0 += C)
      for (int64_t c = 0; c < C; ++c) { s1[c] += ps[t * L + j0 + c]; s2[c] += pq[t * L + j0 + c]; }
}

template <typename T>
void sums(const typename IO<T>::raw* __restrict x, const Layout& lay, std::vector<double>& s1, std::vector<double>& s2) {
  const int64_t L = lay.L, C = lay.C;
  column_sums(lay, [&](int64_t r, float* __restrict s, float* __restrict q) {
    const typename IO<T>::raw* __restrict xr = x + r * L;
    for (int64_t j = 0; j < L; ++j) { float v = IO<T>::load(xr[j]); s[j] += v; q[j] += v * v; }
  }, s1, s2);
  for (int64_t r = lay.S * lay.k; r < lay.M; ++r)
    for (int64_t c = 0; c < C; ++c) { double v = IO<T>::load(x[r * C + c]); s1[c] += v; s2[c] += v * v; }
}

// y = act(x * scale + shift [+ r]); r (the residual) may be null.
template <typename T, int A>
void affine(const typename IO<T>::raw* __restrict x, const typename IO<T>::raw* __restrict r,
            typename IO<T>::raw* __restrict y, const Layout& lay,
            const std::vector<float>& scale, const std::vector<float>& shift) {
  const int64_t L = lay.L, C = lay.C;
  std::vector<float> ts = lay.tile(scale), th = lay.tile(shift);
  const float* __restrict sc = ts.data(); const float* __restrict sh = th.data();
  at::parallel_for(0, lay.S, lay.grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const typename IO<T>::raw* __restrict xr = x + i * L; typename IO<T>::raw* __restrict yr = y + i * L;
      if (r == nullptr) {
        store_row<T>(yr, L, [&](int64_t j) { return activate<A>(IO<T>::load(xr[j]) * sc[j] + sh[j]); });
      } else {
        const typename IO<T>::raw* __restrict rr = r + i * L;
        store_row<T>(yr, L, [&](int64_t j) {
          return activate<A>(IO<T>::load(xr[j]) * sc[j] + sh[j] + IO<T>::load(rr[j]));
        });
      }
    }
  });
  for (int64_t i = lay.S * L; i < lay.M * C; ++i)
    y[i] = IO<T>::store(activate<A>(IO<T>::load(x[i]) * sc[i % C] + sh[i % C] + (r ? IO<T>::load(r[i]) : 0.f)));
}

// y = act(x * scale + shift [+ residual]) in x's dtype: the forward's second pass, and the
// whole of the eval-mode BN.
void affine_pass(const torch::Tensor& x, const std::optional<torch::Tensor>& residual, torch::Tensor& y,
                 const Layout& lay, const std::vector<float>& scale, const std::vector<float>& shift,
                 int64_t act) {
  dispatch(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag); using raw = typename IO<T>::raw;
    const raw* rp = residual ? reinterpret_cast<const raw*>(residual->data_ptr()) : nullptr;
    with_act(act, [&](auto a) {
      affine<T, decltype(a)::value>(reinterpret_cast<const raw*>(x.data_ptr()), rp,
                                    reinterpret_cast<raw*>(y.data_ptr()), lay, scale, shift);
      return 0;
    });
    return 0;
  });
}

// With y (the output of a BN + residual + ReLU; A is then kRelu) the ReLU mask is y > 0 and
// the masked gradient, which is the residual's gradient, is written to dres; without it
// the activation's input is recomputed from x.
template <typename T, int A>
void backward(const typename IO<T>::raw* __restrict g, const typename IO<T>::raw* __restrict x,
              const typename IO<T>::raw* __restrict y, typename IO<T>::raw* __restrict dres,
              typename IO<T>::raw* __restrict dx, const Layout& lay, const float* w, const float* b,
              const float* mean, const float* invstd, float* dw, float* db) {
  const int64_t L = lay.L, C = lay.C, M = lay.M;
  std::vector<float> scale(C), shift(C), m(C);
  for (int64_t c = 0; c < C; ++c) { scale[c] = w[c] * invstd[c]; shift[c] = b[c] - mean[c] * scale[c]; m[c] = mean[c]; }
  std::vector<float> ts = lay.tile(scale), th = lay.tile(shift), tm = lay.tile(m);
  const float* __restrict sc = ts.data(); const float* __restrict sh = th.data(); const float* __restrict mu = tm.data();
  std::vector<double> sg, sgx;  // per channel: sum of masked g, and of masked g * (x - mean)
  column_sums(lay, [&](int64_t r, float* __restrict s, float* __restrict q) {
    const typename IO<T>::raw* __restrict xr = x + r * L; const typename IO<T>::raw* __restrict gr = g + r * L;
    if (y == nullptr) {
      for (int64_t j = 0; j < L; ++j) {
        const float xv = IO<T>::load(xr[j]), gv = act_grad<A>(xv * sc[j] + sh[j], IO<T>::load(gr[j]));
        s[j] += gv; q[j] += gv * (xv - mu[j]);
      }
    } else {
      const typename IO<T>::raw* __restrict yr = y + r * L; typename IO<T>::raw* __restrict rr = dres + r * L;
      for (int64_t j = 0; j < L; ++j) {
        float xv = IO<T>::load(xr[j]), gv = IO<T>::load(gr[j]);
        gv = IO<T>::load(yr[j]) > 0.f ? gv : 0.f;
        rr[j] = IO<T>::store(gv);
        s[j] += gv; q[j] += gv * (xv - mu[j]);
      }
    }
  }, sg, sgx);
  for (int64_t i = lay.S * L; i < M * C; ++i) {
    const int64_t c = i % C; float xv = IO<T>::load(x[i]), gv = IO<T>::load(g[i]);
    gv = y ? (IO<T>::load(y[i]) > 0.f ? gv : 0.f) : act_grad<A>(xv * scale[c] + shift[c], gv);
    if (y) dres[i] = IO<T>::store(gv);
    sg[c] += gv; sgx[c] += double(gv) * (xv - m[c]);
  }
  std::vector<float> k2(C), k3(C);
  for (int64_t c = 0; c < C; ++c) {
    db[c] = float(sg[c]); dw[c] = float(sgx[c] * invstd[c]);
    k2[c] = float(sg[c] / M); k3[c] = float(double(invstd[c]) * invstd[c] * sgx[c] / M);
  }
  std::vector<float> t2 = lay.tile(k2), t3 = lay.tile(k3);
  const float* __restrict c2 = t2.data(); const float* __restrict c3 = t3.data();
  at::parallel_for(0, lay.S, lay.grain, [&](int64_t b0, int64_t e) {
    for (int64_t r = b0; r < e; ++r) {
      const typename IO<T>::raw* __restrict xr = x + r * L; const typename IO<T>::raw* __restrict gr = g + r * L;
      typename IO<T>::raw* __restrict dr = dx + r * L;
      if (y == nullptr) {
        store_row<T>(dr, L, [&](int64_t j) {
          const float xv = IO<T>::load(xr[j]), gv = act_grad<A>(xv * sc[j] + sh[j], IO<T>::load(gr[j]));
          return sc[j] * (gv - c2[j] - (xv - mu[j]) * c3[j]);
        });
      } else {  // dres holds the masked gradient already
        const typename IO<T>::raw* __restrict mr = dres + r * L;
        store_row<T>(dr, L, [&](int64_t j) {
          const float xv = IO<T>::load(xr[j]), gv = IO<T>::load(mr[j]);
          return sc[j] * (gv - c2[j] - (xv - mu[j]) * c3[j]);
        });
      }
    }
  });
  for (int64_t i = lay.S * L; i < M * C; ++i) {
    const int64_t c = i % C; float xv = IO<T>::load(x[i]);
    const float gv = y ? IO<T>::load(dres[i]) : act_grad<A>(xv * scale[c] + shift[c], IO<T>::load(g[i]));
    dx[i] = IO<T>::store(scale[c] * (gv - k2[c] - (xv - m[c]) * k3[c]));
  }
}

}  // namespace

// x: (N, C, H, W) channels_last (or (M, C)), float32 or bfloat16; weight, bias: float32 (C).
// act: 0 none, 1 ReLU. residual: None, or a tensor like x added before the activation.
// Returns y, batch mean, invstd, unbiased variance.
std::vector<torch::Tensor> bn_forward(torch::Tensor x, torch::Tensor w, torch::Tensor b, double eps, int64_t act,
                                      std::optional<torch::Tensor> residual) {
  const int64_t C = x.size(1), M = x.numel() / C;
  Layout lay(C, M);
  auto y = torch::empty_like(x);
  auto f32 = x.options().dtype(torch::kFloat);
  auto mean = torch::empty({C}, f32), invstd = torch::empty({C}, f32), var = torch::empty({C}, f32);
  std::vector<float> scale(C), shift(C);
  dispatch(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag); using raw = typename IO<T>::raw;
    const raw* xp = reinterpret_cast<const raw*>(x.data_ptr());
    std::vector<double> s1, s2;
    sums<T>(xp, lay, s1, s2);
    const float* wp = w.data_ptr<float>(); const float* bp = b.data_ptr<float>();
    float* mp = mean.data_ptr<float>(); float* ip = invstd.data_ptr<float>(); float* vp = var.data_ptr<float>();
    for (int64_t c = 0; c < C; ++c) {
      const double mu = s1[c] / M, v = std::max(s2[c] / M - mu * mu, 0.0), is = 1.0 / std::sqrt(v + eps);
      mp[c] = float(mu); ip[c] = float(is); vp[c] = float(M > 1 ? v * M / (M - 1) : v);
      scale[c] = float(wp[c] * is); shift[c] = float(bp[c] - mu * wp[c] * is);
    }
    return 0;
  });
  affine_pass(x, residual, y, lay, scale, shift, act);
  return {y, mean, invstd, var};
}

// Eval-mode BN (+ shortcut) (+ ReLU) in one pass, for inference only (no backward):
// act(x * scale + shift [+ residual]) with the per-channel scale and shift (float32, C) that
// the running statistics and the affine parameters give.
torch::Tensor bn_eval(torch::Tensor x, torch::Tensor scale, torch::Tensor shift, int64_t act,
                      std::optional<torch::Tensor> residual) {
  const int64_t C = x.size(1), M = x.numel() / C;
  Layout lay(C, M);
  auto y = torch::empty_like(x);
  std::vector<float> sc(scale.data_ptr<float>(), scale.data_ptr<float>() + C);
  std::vector<float> sh(shift.data_ptr<float>(), shift.data_ptr<float>() + C);
  affine_pass(x, residual, y, lay, sc, sh, act);
  return y;
}

// act: 0 none, 1 ReLU. y: None, or the forward output when a residual was added before
// a ReLU; then the fourth result is the residual's gradient (else it is undefined: None).
std::vector<torch::Tensor> bn_backward(torch::Tensor g, torch::Tensor x, torch::Tensor w, torch::Tensor b,
                                       torch::Tensor mean, torch::Tensor invstd, int64_t act,
                                       std::optional<torch::Tensor> y) {
  const int64_t C = x.size(1), M = x.numel() / C;
  Layout lay(C, M);
  auto dx = torch::empty_like(x);
  torch::Tensor dres;
  if (y) dres = torch::empty_like(x);
  auto dw = torch::empty({C}, w.options()), db = torch::empty({C}, w.options());
  dispatch(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag); using raw = typename IO<T>::raw;
    with_act(act, [&](auto a) {
      backward<T, decltype(a)::value>(
          reinterpret_cast<const raw*>(g.data_ptr()), reinterpret_cast<const raw*>(x.data_ptr()),
          y ? reinterpret_cast<const raw*>(y->data_ptr()) : nullptr,
          y ? reinterpret_cast<raw*>(dres.data_ptr()) : nullptr, reinterpret_cast<raw*>(dx.data_ptr()),
          lay, w.data_ptr<float>(), b.data_ptr<float>(), mean.data_ptr<float>(), invstd.data_ptr<float>(),
          dw.data_ptr<float>(), db.data_ptr<float>());
      return 0;
    });
    return 0;
  });
  return {dx, dw, db, dres};
}
