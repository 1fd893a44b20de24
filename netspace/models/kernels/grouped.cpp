// Grouped k x k convolution (C_in == C_out, small group width) on CPU, channels_last:
// forward, input gradient and weight gradient.
//
// oneDNN's grouped conv reaches a small fraction of the machine's fp32 rate at
// RegNet's shapes (group width 8 or 16, 2x2..8x8 images; 12 GFLOP/s forward +
// backward at 368 channels 2x2 on a 2-core Zen 3, benchmarks/grouped_conv.py),
// though each group is only a small GEMM (K = k*k*GW, N = GW). Here every
// group is the same register-blocked outer-product loop:
//   y[pix, g, oc] += x[pix + tap, g, ci] * W[g, tap, ci, oc]
// with the innermost loop over a group's GW (or a 16/8/4/2/1-wide slice of it)
// output channels, contiguous in the packed weights, so -march=native turns it
// into a few vector FMAs; P pixels are computed together so each weight vector
// loaded is used P times.
//
// Pixels near the border use fewer taps. Rather than test each tap per pixel,
// pixels are sorted into classes that share one set of valid taps (and so the
// same source offsets relative to a base): at 2x2 a class is one position in
// all N images, at 32x32 almost every pixel is in the one interior class. The P
// pixels of a block always come from one class, across images where a class is
// small, so the inner loops carry no bounds checks and skip padding entirely.
//
// The input gradient is the same loop in gather form (each input pixel sums
// the outputs whose windows cover it, weights transposed within a group), so
// every dx element is written by exactly one thread. The weight gradient splits
// its output (group, kernel row, channel blocks) between threads: each slice is
// summed by one thread in a fixed order, float in registers over a chunk of
// pixels and then into double, so the result is bitwise the same for any
// number of threads and needs no reduction.
//
// Values float32 or bfloat16 (math in float32), weights float32.
#include "common.h"

#include <ATen/Parallel.h>
#include <algorithm>
#include <cstring>
#include <map>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using netspace::IO;
using netspace::dispatch;

struct Shape {
  int64_t N, C, H, W, GW, G, k, s, p, Ho, Wo;
};

Shape make_shape(const torch::Tensor& x, int64_t group_width, int64_t k, int64_t s, int64_t p) {
  Shape g{x.size(0), x.size(1), x.size(2), x.size(3), group_width, x.size(1) / group_width, k, s, p, 0, 0};
  g.Ho = (g.H + 2 * p - k) / s + 1;
  g.Wo = (g.W + 2 * p - k) / s + 1;
  return g;
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// ---------------------------------------------------------------------------------------------
// Gather plan: which source pixels and taps make each destination pixel.

struct Tap {
  int64_t src;  // element offset from the pixel's source base
  int64_t w;    // offset of the tap's (GW x GW) block in a group's packed weights
};
struct Pixel {
  int64_t src, dst;  // element offsets of the source base and of the destination pixel
};
struct Block {
  int64_t cls, first, count;
};
struct Plan {
  std::vector<Pixel> pixels;                // grouped by class
  std::vector<std::vector<Tap>> taps;       // per class
  std::vector<Block> blocks;                // up to P consecutive pixels of one class
};

// One axis: for each destination coordinate, its class, base source coordinate and the
// (tap index, source coordinate - base) pairs that contribute.
struct Axis {
  std::vector<int64_t> cls, base;
  std::vector<std::vector<std::pair<int64_t, int64_t>>> taps;
};

// forward: dst o reads src o*s - p + i; backward (transposed): dst h reads src o = (h + p - i) / s
// where that divides exactly and lies in range.
Axis make_axis(int64_t dst_len, int64_t src_len, int64_t k, int64_t s, int64_t p, bool transposed) {
  Axis a;
  std::map<std::vector<std::pair<int64_t, int64_t>>, int64_t> index;
  for (int64_t d = 0; d < dst_len; ++d) {
    std::vector<std::pair<int64_t, int64_t>> taps;
    int64_t base = 0;
    bool have_base = false;
    for (int64_t i = 0; i < k; ++i) {
      int64_t src;
      if (!transposed) {
        src = d * s - p + i;
      } else {
        const int64_t t = d + p - i;
        if (t < 0 || t % s != 0) continue;
        src = t / s;
      }
      if (src < 0 || src >= src_len) continue;
      if (!have_base) {
        // forward: the window's corner (may be off the image; only valid taps are added to it)
        base = transposed ? src : d * s - p;
        have_base = true;
      }
      taps.emplace_back(i, src - base);
    }
    auto it = index.find(taps);
    if (it == index.end()) {
      it = index.emplace(taps, int64_t(a.taps.size())).first;
      a.taps.push_back(taps);
    }
    a.cls.push_back(it->second);
    a.base.push_back(base);
  }
  return a;
}

// Images a pass works through together: about L2's worth of source and destination, so that
// the border classes (a few pixels per image each) do not each sweep the whole batch from memory.
int64_t images_per_chunk(const Shape& g, int64_t elem_bytes) {
  const int64_t per_image = (g.H * g.W + g.Ho * g.Wo) * g.C * elem_bytes;
  return std::max<int64_t>(1, (256 << 10) / std::max<int64_t>(1, per_image));
}

Plan make_plan(const Shape& g, bool transposed, int64_t P, int64_t chunk) {
  const int64_t Hd = transposed ? g.H : g.Ho, Wd = transposed ? g.W : g.Wo;
  const int64_t Hs = transposed ? g.Ho : g.H, Ws = transposed ? g.Wo : g.W;
  const Axis rows = make_axis(Hd, Hs, g.k, g.s, g.p, transposed);
  const Axis cols = make_axis(Wd, Ws, g.k, g.s, g.p, transposed);
  const int64_t GG = g.GW * g.GW;
  const int64_t nr = int64_t(rows.taps.size()), nc = int64_t(cols.taps.size());
  Plan plan;
  for (int64_t rc = 0; rc < nr; ++rc)
    for (int64_t cc = 0; cc < nc; ++cc) {
      std::vector<Tap> taps;
      for (const auto& [i, di] : rows.taps[rc])
        for (const auto& [j, dj] : cols.taps[cc]) taps.push_back({(di * Ws + dj) * g.C, (i * g.k + j) * GG});
      plan.taps.push_back(std::move(taps));
    }
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t n1 = std::min(g.N, n0 + chunk);
    for (int64_t cls = 0; cls < nr * nc; ++cls) {
      const int64_t rc = cls / nc, cc = cls % nc, first = int64_t(plan.pixels.size());
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t h = 0; h < Hd; ++h) {
          if (rows.cls[h] != rc) continue;
          for (int64_t v = 0; v < Wd; ++v) {
            if (cols.cls[v] != cc) continue;
            plan.pixels.push_back({((n * Hs + rows.base[h]) * Ws + cols.base[v]) * g.C, ((n * Hd + h) * Wd + v) * g.C});
          }
        }
      const int64_t end = int64_t(plan.pixels.size());
      for (int64_t f = first; f < end; f += P) plan.blocks.push_back({cls, f, std::min(P, end - f)});
    }
  }
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Vectors of L floats (GCC/Clang vector extensions: portable, lowered to AVX2, NEON or scalar code).
// Written with these rather than plain arrays because GCC vectorized the array form across the
// wrong loop and kept the accumulators on the stack.

template <int OB> struct Lanes {
  static constexpr int L = OB >= 8 ? 8 : OB;  // one 32-byte vector, or the whole slice if narrower
  static constexpr int NV = OB / L;           // vectors per slice of OB channels
  typedef float V __attribute__((vector_size(sizeof(float) * L)));
};

template <typename T, typename V, int L> inline V load_vec(const typename IO<T>::raw* p) {
  V v;
  if constexpr (std::is_same_v<T, float>) {
    std::memcpy(&v, p, sizeof(V));
  } else {
    float f[L];
    for (int l = 0; l < L; ++l) f[l] = IO<T>::load(p[l]);
    std::memcpy(&v, f, sizeof(V));
  }
  return v;
}

template <typename T, typename V, int L> inline void store_vec(typename IO<T>::raw* p, V v) {
  if constexpr (std::is_same_v<T, float>) {
    std::memcpy(p, &v, sizeof(V));
  } else {
    float f[L];
    std::memcpy(f, &v, sizeof(V));
    for (int l = 0; l < L; ++l) p[l] = IO<T>::store(f[l]);
  }
}

// ---------------------------------------------------------------------------------------------
// The gather micro-kernel: OB output channels of one group for P pixels.
// CI is the reduced width when it is a compile-time constant (0: runtime `ci_n`).

template <typename T, int OB, int CI, int P>
inline void gather_block(const typename IO<T>::raw* __restrict src, const Pixel* px, const int64_t* so, int64_t cnt,
                         const Tap* taps, int64_t ntaps, const float* __restrict wg, int64_t ci_n,
                         typename IO<T>::raw* __restrict dst, int64_t dst_chan, int64_t src_chan) {
  using LN = Lanes<OB>;
  using V = typename LN::V;
  constexpr int L = LN::L, NV = LN::NV;
  // packed weights: [tap][reduced channel][GW outputs], so a row is CN (== GW) long
  const int64_t CN = CI > 0 ? CI : ci_n;
  V acc[P][NV];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < NV; ++v) acc[p][v] = V{};
  for (int64_t t = 0; t < ntaps; ++t) {
    const float* __restrict wt = wg + taps[t].w;
    // per-tap pointers, so the unrolled channel loop below addresses each pixel with a constant
    const typename IO<T>::raw* xp[P];
    for (int p = 0; p < P; ++p) xp[p] = src + (so[p] + src_chan + taps[t].src);
    if constexpr (CI > 0) {
#pragma GCC unroll 32
      for (int c = 0; c < CI; ++c) {
        V wv[NV];
        for (int v = 0; v < NV; ++v) std::memcpy(&wv[v], wt + c * CI + v * L, sizeof(V));
        for (int p = 0; p < P; ++p) {
          const float xv = IO<T>::load(xp[p][c]);
          for (int v = 0; v < NV; ++v) acc[p][v] += xv * wv[v];
        }
      }
    } else {
      for (int64_t c = 0; c < CN; ++c) {
        V wv[NV];
        for (int v = 0; v < NV; ++v) std::memcpy(&wv[v], wt + c * CN + v * L, sizeof(V));
        for (int p = 0; p < P; ++p) {
          const float xv = IO<T>::load(xp[p][c]);
          for (int v = 0; v < NV; ++v) acc[p][v] += xv * wv[v];
        }
      }
    }
  }
  for (int p = 0; p < P && p < cnt; ++p) {
    typename IO<T>::raw* __restrict d = dst + px[p].dst + dst_chan;
    for (int v = 0; v < NV; ++v) store_vec<T, V, L>(d + v * L, acc[p][v]);
  }
}

// P pixels per block: enough accumulators to hide FMA latency, few enough to stay in registers.
template <int OB> constexpr int pixels_per_block() { return OB >= 16 ? 4 : 8; }

template <typename T, int OB, int CI>
void gather(const typename IO<T>::raw* src, const float* wp, typename IO<T>::raw* dst, const Shape& g,
            bool transposed) {
  constexpr int P = pixels_per_block<OB>();
  const Plan plan = make_plan(g, transposed, P, images_per_chunk(g, sizeof(typename IO<T>::raw)));
  const int64_t KK = g.k * g.k, GW = g.GW, group_stride = KK * GW * GW;
  at::parallel_for(0, int64_t(plan.blocks.size()), 1, [&](int64_t b, int64_t e) {
    for (int64_t bi = b; bi < e; ++bi) {
      const Block& blk = plan.blocks[bi];
      const int64_t cnt = blk.count;
      const auto& taps = plan.taps[blk.cls];
      const Pixel* px = plan.pixels.data() + blk.first;
      // a short last block repeats its last pixel (computed, not stored) so P stays a constant
      int64_t so[P];
      for (int p = 0; p < P; ++p) so[p] = px[p < cnt ? p : cnt - 1].src;
      for (int64_t grp = 0; grp < g.G; ++grp)
        for (int64_t oc = 0; oc < GW; oc += OB)
          gather_block<T, OB, CI, P>(src, px, so, cnt, taps.data(), int64_t(taps.size()), wp + grp * group_stride + oc,
                                     GW, dst, grp * GW + oc, grp * GW);
    }
  });
}

// Picks the widest output slice that divides the group width, and a constant reduced width where common.
template <typename T>
void gather_dispatch(const typename IO<T>::raw* src, const float* wp, typename IO<T>::raw* dst, const Shape& g,
                     bool transposed) {
  switch (g.GW) {
    case 1: return gather<T, 1, 1>(src, wp, dst, g, transposed);
    case 2: return gather<T, 2, 2>(src, wp, dst, g, transposed);
    case 4: return gather<T, 4, 4>(src, wp, dst, g, transposed);
    case 8: return gather<T, 8, 8>(src, wp, dst, g, transposed);
    case 16: return gather<T, 16, 16>(src, wp, dst, g, transposed);
    case 24: return gather<T, 8, 24>(src, wp, dst, g, transposed);
    case 32: return gather<T, 16, 32>(src, wp, dst, g, transposed);
    default: break;
  }
  if (g.GW % 16 == 0) return gather<T, 16, 0>(src, wp, dst, g, transposed);
  if (g.GW % 8 == 0) return gather<T, 8, 0>(src, wp, dst, g, transposed);
  if (g.GW % 4 == 0) return gather<T, 4, 0>(src, wp, dst, g, transposed);
  if (g.GW % 2 == 0) return gather<T, 2, 0>(src, wp, dst, g, transposed);
  return gather<T, 1, 0>(src, wp, dst, g, transposed);
}

// Packs w (C, GW, k, k) as [group][tap][reduced channel][output channel]. Forward reduces over the
// input channel; the input gradient reduces over the output channel (the group's block transposed).
std::vector<float> pack(const float* w, const Shape& g, bool transposed) {
  const int64_t KK = g.k * g.k, GW = g.GW;
  std::vector<float> out(g.C * GW * KK);
  for (int64_t grp = 0; grp < g.G; ++grp)
    for (int64_t oc = 0; oc < GW; ++oc)
      for (int64_t ci = 0; ci < GW; ++ci)
        for (int64_t t = 0; t < KK; ++t) {
          const float v = w[((grp * GW + oc) * GW + ci) * KK + t];
          const int64_t r = transposed ? oc : ci, o = transposed ? ci : oc;
          out[((grp * KK + t) * GW + r) * GW + o] = v;
        }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Weight gradient: dw[g*GW+oc, ci, i, j] = sum over (n, o, q) of gy[n,o,q,g,oc] * x[n, o*s-p+i, q*s-p+j, g, ci].

template <typename T, int OB, int CB>
void wgrad(const typename IO<T>::raw* gy, const typename IO<T>::raw* x, float* dw, const Shape& g) {
  using raw = typename IO<T>::raw;
  using LN = Lanes<OB>;
  using V = typename LN::V;
  constexpr int L = LN::L, NV = LN::NV;
  const int64_t GW = g.GW, k = g.k, KK = k * k, C = g.C;
  const int64_t nob = GW / OB, ncb = GW / CB;
  // Work item: (group, kernel row i, input-channel block, output-channel block). The k taps of a row
  // read the same input rows, so they share a pass over a chunk of images while it is in cache.
  const int64_t items = g.G * k * ncb * nob;
  // float sums over at most ~256 pixels before they move into double: register speed, double accuracy
  const int64_t chunk = std::max<int64_t>(1, 256 / std::max<int64_t>(1, g.Ho * g.Wo));
  // All items work through one slab of images (about L2's worth) before the next, so x and gy come
  // from memory once per slab rather than once per item. Each item's double sums live across slabs
  // and are only ever touched by the thread that owns the item in that slab, in slab order.
  const int64_t slab = chunk * std::max<int64_t>(1, (images_per_chunk(g, sizeof(raw)) * 2 + chunk - 1) / chunk);
  const int64_t per_item = k * CB * OB;
  std::vector<double> totals(items * per_item, 0.0);
  for (int64_t N0 = 0; N0 < g.N; N0 += slab) {
    const int64_t N1 = std::min(g.N, N0 + slab);
    at::parallel_for(0, items, 1, [&](int64_t b, int64_t e) {
      for (int64_t it = b; it < e; ++it) {
        const int64_t ob = it % nob, cb = (it / nob) % ncb, i = (it / (nob * ncb)) % k;
        const int64_t o_lo = std::max<int64_t>(0, floor_div(g.p - i + g.s - 1, g.s));
        const int64_t o_hi = std::min<int64_t>(g.Ho, floor_div(g.H - 1 + g.p - i, g.s) + 1);
        const int64_t grp = it / (nob * ncb * k);
        double* __restrict total = totals.data() + it * per_item;
        for (int64_t n0 = N0; n0 < N1 && o_lo < o_hi; n0 += chunk) {
          const int64_t n1 = std::min(N1, n0 + chunk);
          for (int64_t j = 0; j < k; ++j) {
            const int64_t q_lo = std::max<int64_t>(0, floor_div(g.p - j + g.s - 1, g.s));
            const int64_t q_hi = std::min<int64_t>(g.Wo, floor_div(g.W - 1 + g.p - j, g.s) + 1);
            if (q_lo >= q_hi) continue;
            V acc[CB][NV];
            for (int c = 0; c < CB; ++c)
              for (int v = 0; v < NV; ++v) acc[c][v] = V{};
            auto pixel = [&](const raw* __restrict gq, const raw* __restrict xq) {
              V gv[NV];
              for (int v = 0; v < NV; ++v) gv[v] = load_vec<T, V, L>(gq + v * L);
              for (int c = 0; c < CB; ++c) {
                const float xv = IO<T>::load(xq[c]);
                for (int v = 0; v < NV; ++v) acc[c][v] += xv * gv[v];
              }
            };
            // gy's offset for (n0, oy, q = 0), and x's for tap (i, j) there (left of the row where
            // q = 0 reads padding; only valid q are added to it)
            auto gy_at = [&](int64_t oy) { return ((n0 * g.Ho + oy) * g.Wo) * C + grp * GW + ob * OB; };
            auto x_at = [&](int64_t oy) {
              return ((n0 * g.H + oy * g.s - g.p + i) * g.W - g.p + j) * C + grp * GW + cb * CB;
            };
            if (n1 - n0 > 1) {
              // small images: images innermost, at constant strides, rather than a loop over one or
              // two columns per row
              const int64_t gy_image = g.Ho * g.Wo * C, x_image = g.H * g.W * C;
              for (int64_t oy = o_lo; oy < o_hi; ++oy)
                for (int64_t q = q_lo; q < q_hi; ++q) {
                  const raw* gq = gy + gy_at(oy) + q * C;
                  const raw* xq = x + x_at(oy) + q * g.s * C;
                  for (int64_t n = n0; n < n1; ++n, gq += gy_image, xq += x_image) pixel(gq, xq);
                }
            } else {
              for (int64_t oy = o_lo; oy < o_hi; ++oy) {
                const int64_t grow = gy_at(oy), xrow = x_at(oy);
                for (int64_t q = q_lo; q < q_hi; ++q) pixel(gy + grow + q * C, x + xrow + q * g.s * C);
              }
            }
            float flat[CB][OB];
            std::memcpy(flat, acc, sizeof(flat));
            double* __restrict tj = total + j * CB * OB;
            for (int c = 0; c < CB; ++c)
              for (int o = 0; o < OB; ++o) tj[c * OB + o] += flat[c][o];
          }
        }
      }
    });
  }
  for (int64_t it = 0; it < items; ++it) {
    const int64_t ob = it % nob, cb = (it / nob) % ncb, i = (it / (nob * ncb)) % k, grp = it / (nob * ncb * k);
    const double* total = totals.data() + it * per_item;
    for (int64_t j = 0; j < k; ++j)
      for (int c = 0; c < CB; ++c)
        for (int o = 0; o < OB; ++o)
          dw[((grp * GW + ob * OB + o) * GW + cb * CB + c) * KK + i * k + j] = float(total[(j * CB + c) * OB + o]);
  }
}

template <typename T>
void wgrad_dispatch(const typename IO<T>::raw* gy, const typename IO<T>::raw* x, float* dw, const Shape& g) {
  // an 8 x 8 accumulator block is 8 vector registers with AVX2; narrower groups use their width
  if (g.GW % 8 == 0) return wgrad<T, 8, 8>(gy, x, dw, g);
  if (g.GW % 4 == 0) return wgrad<T, 4, 4>(gy, x, dw, g);
  if (g.GW % 2 == 0) return wgrad<T, 2, 2>(gy, x, dw, g);
  return wgrad<T, 1, 1>(gy, x, dw, g);
}

void check_input(const torch::Tensor& x, const char* name) {
  TORCH_CHECK(x.device().is_cpu() && x.dim() == 4, "grouped conv: ", name, " must be a 4-d CPU tensor");
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16, "grouped conv: ", name,
              " must be float32 or bfloat16, got ", x.scalar_type());
  TORCH_CHECK(x.is_contiguous(at::MemoryFormat::ChannelsLast), "grouped conv: ", name,
              " must be channels_last contiguous (x.contiguous(memory_format=torch.channels_last))");
}

Shape checked_shape(const torch::Tensor& x, int64_t C_out, int64_t group_width, int64_t k, int64_t stride,
                    int64_t padding) {
  check_input(x, "input");
  const int64_t C = x.size(1);
  TORCH_CHECK(C_out == C, "grouped conv: needs as many output channels as input channels (got ", C_out, " and ",
              C, ")");
  TORCH_CHECK(group_width >= 1 && C % group_width == 0, "grouped conv: group width ", group_width,
              " does not divide ", C, " channels");
  TORCH_CHECK(k >= 1 && k % 2 == 1, "grouped conv: kernel size must be odd, got ", k);
  TORCH_CHECK(stride >= 1 && padding >= 0, "grouped conv: stride must be >= 1 and padding >= 0");
  const Shape g = make_shape(x, group_width, k, stride, padding);
  TORCH_CHECK(g.Ho >= 1 && g.Wo >= 1, "grouped conv: input ", g.H, "x", g.W, " too small for kernel ", k,
              " with padding ", padding);
  return g;
}

void check_weight(const torch::Tensor& w) {
  TORCH_CHECK(w.device().is_cpu() && w.dim() == 4 && w.scalar_type() == at::kFloat && w.is_contiguous(),
              "grouped conv: weight must be a contiguous float32 (C_out, C_in/groups, k, k) CPU tensor");
  TORCH_CHECK(w.size(2) == w.size(3), "grouped conv: kernel must be square");
}

void check_grad(const torch::Tensor& gy, const torch::Tensor& x, const Shape& g) {
  check_input(gy, "output gradient");
  TORCH_CHECK(gy.scalar_type() == x.scalar_type(), "grouped conv: output gradient must have the input's dtype");
  TORCH_CHECK(gy.size(0) == g.N && gy.size(1) == g.C && gy.size(2) == g.Ho && gy.size(3) == g.Wo,
              "grouped conv: output gradient has shape ", gy.sizes(), ", expected [", g.N, ", ", g.C, ", ", g.Ho,
              ", ", g.Wo, "]");
}

}  // namespace

// y = conv2d(x, w, stride, padding, groups = C / w.size(1)); x channels_last, w (C, GW, k, k) float32.
torch::Tensor grouped_forward(torch::Tensor x, torch::Tensor w, int64_t stride, int64_t padding) {
  check_weight(w);
  const Shape g = checked_shape(x, w.size(0), w.size(1), w.size(2), stride, padding);
  auto y = torch::empty({g.N, g.C, g.Ho, g.Wo}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
  const std::vector<float> wp = pack(w.data_ptr<float>(), g, false);
  dispatch(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag); using raw = typename IO<T>::raw;
    gather_dispatch<T>(reinterpret_cast<const raw*>(x.data_ptr()), wp.data(), reinterpret_cast<raw*>(y.data_ptr()),
                       g, false);
    return 0;
  });
  return y;
}

// dx for output gradient gy; x gives the input's shape and dtype only.
torch::Tensor grouped_input_grad(torch::Tensor gy, torch::Tensor x, torch::Tensor w, int64_t stride,
                                 int64_t padding) {
  check_weight(w);
  const Shape g = checked_shape(x, w.size(0), w.size(1), w.size(2), stride, padding);
  check_grad(gy, x, g);
  auto dx = torch::empty({g.N, g.C, g.H, g.W}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
  const std::vector<float> wp = pack(w.data_ptr<float>(), g, true);
  dispatch(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag); using raw = typename IO<T>::raw;
    gather_dispatch<T>(reinterpret_cast<const raw*>(gy.data_ptr()), wp.data(),
                       reinterpret_cast<raw*>(dx.data_ptr()), g, true);
    return 0;
  });
  return dx;
}

// dw as (C, C / groups, k, k) float32.
torch::Tensor grouped_weight_grad(torch::Tensor gy, torch::Tensor x, int64_t k, int64_t stride, int64_t padding,
                                  int64_t groups) {
  TORCH_CHECK(groups >= 1 && x.dim() == 4 && x.size(1) % groups == 0, "grouped conv: ", groups,
              " groups do not divide the input's channels");
  const int64_t GW = x.size(1) / groups;
  const Shape g = checked_shape(x, x.size(1), GW, k, stride, padding);
  check_grad(gy, x, g);
  auto dw = torch::empty({g.C, GW, k, k}, x.options().dtype(torch::kFloat).memory_format(at::MemoryFormat::Contiguous));
  dispatch(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag); using raw = typename IO<T>::raw;
    wgrad_dispatch<T>(reinterpret_cast<const raw*>(gy.data_ptr()), reinterpret_cast<const raw*>(x.data_ptr()),
                      dw.data_ptr<float>(), g);
    return 0;
  });
  return dw;
}
