// TV-L1 flow on a CPU: TorchTVL1.flow in C++, each iteration fused into one sweep over the planes.
//
// Built and loaded by twostream/flow/native.py (g++ -O3 -march=native -fopenmp, a plain C ABI
// called through ctypes). Computes what twostream.flow.tvl1 computes in torch (the same
// operations in the same order per pixel: pyramid, warp, tvl1_step iterated to each pair's
// stopping rule, median), for a batch of pairs: each pair on one thread, pairs in parallel;
// a batch smaller than the thread count splits each iteration's rows between the threads.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <utility>
#include <vector>

namespace {

struct Planes {
  float *u1, *u2, *p11, *p12, *p21, *p22;
  const float *i1wx, *i1wy, *rho_c;
};

struct Params {
  int h, w;
  float l_t, theta, taut;
  double threshold;
  int total, median_every, cuda_rule;
};

// Thresholding and the primal update of row y: u += c grad I1w + theta div p (p of the last
// iteration at rows y and y - 1). Returns the row's change sum |u_new - u|^2.
inline float primal(float ix, float iy, float rc, float& u1, float& u2, float div1, float div2, float l_t,
                    float theta) {
  const float grad = ix * ix + iy * iy;
  const float a1 = u1, a2 = u2;
  const float rho = rc + ix * a1 + iy * a2;
  float c;
  if (rho < -l_t * grad) c = l_t;
  else if (rho > l_t * grad) c = -l_t;
  else if (grad > FLT_EPSILON) c = -rho / grad;
  else c = 0.0f;
  const float n1 = a1 + c * ix + theta * div1;
  const float n2 = a2 + c * iy + theta * div2;
  u1 = n1;
  u2 = n2;
  return (n1 - a1) * (n1 - a1) + (n2 - a2) * (n2 - a2);
}

double update_u(const Planes& s, const Params& q, int y, const float* zeros) {
  const int w = q.w;
  const long o = (long)y * w;
  float* __restrict u1 = s.u1 + o;
  float* __restrict u2 = s.u2 + o;
  const float* __restrict p11 = s.p11 + o;
  const float* __restrict p12 = s.p12 + o;
  const float* __restrict p21 = s.p21 + o;
  const float* __restrict p22 = s.p22 + o;
  const float* __restrict p12_up = y ? p12 - w : zeros;
  const float* __restrict p22_up = y ? p22 - w : zeros;
  const float* __restrict gx = s.i1wx + o;
  const float* __restrict gy = s.i1wy + o;
  const float* __restrict rc = s.rho_c + o;
  const float l_t = q.l_t, theta = q.theta;
  float change = primal(gx[0], gy[0], rc[0], u1[0], u2[0], p11[0] + p12[0] - p12_up[0],
                        p21[0] + p22[0] - p22_up[0], l_t, theta);
#pragma omp simd reduction(+ : change)
  for (int x = 1; x < w; ++x) {
    const float div1 = p11[x] - p11[x - 1] + p12[x] - p12_up[x];
    const float div2 = p21[x] - p21[x - 1] + p22[x] - p22_up[x];
    change += primal(gx[x], gy[x], rc[x], u1[x], u2[x], div1, div2, l_t, theta);
  }
  return change;
}

// Chambolle's dual step of row y from the new u at rows y and y + 1 (forward differences).
inline void dual(float ux1, float uy1, float ux2, float uy2, float& p11, float& p12, float& p21, float& p22,
                 float taut) {
  const float r1 = 1.0f / (1.0f + taut * std::sqrt(ux1 * ux1 + uy1 * uy1));  // one division, not two
  const float r2 = 1.0f / (1.0f + taut * std::sqrt(ux2 * ux2 + uy2 * uy2));
  p11 = (p11 + taut * ux1) * r1;
  p12 = (p12 + taut * uy1) * r1;
  p21 = (p21 + taut * ux2) * r2;
  p22 = (p22 + taut * uy2) * r2;
}

void update_p(const Planes& s, const Params& q, int y) {
  const int w = q.w;
  const long o = (long)y * w;
  const float* __restrict u1 = s.u1 + o;
  const float* __restrict u2 = s.u2 + o;
  const float* __restrict d1 = y + 1 < q.h ? u1 + w : u1;  // past the last row: uy = 0
  const float* __restrict d2 = y + 1 < q.h ? u2 + w : u2;
  float* __restrict p11 = s.p11 + o;
  float* __restrict p12 = s.p12 + o;
  float* __restrict p21 = s.p21 + o;
  float* __restrict p22 = s.p22 + o;
  const float taut = q.taut;
#pragma omp simd
  for (int x = 0; x < w - 1; ++x)
    dual(u1[x + 1] - u1[x], d1[x] - u1[x], u2[x + 1] - u2[x], d2[x] - u2[x], p11[x], p12[x], p21[x], p22[x],
         taut);
  const int x = w - 1;  // past the last column: ux = 0
  dual(0.0f, d1[x] - u1[x], 0.0f, d2[x] - u2[x], p11[x], p12[x], p21[x], p22[x], taut);
}

// 5x5 median of an (h, w) plane in place, replicated border (cv::medianBlur, ksize 5), 16 columns
// at a time. The network: Batcher's odd-even merge sort of 32 values with 7 of them +inf, pruned
// to the 113 comparators the 13th smallest (the median of the other 25) depends on (generated
// and checked against sorting by tests/flow/test_native.py). ``pad``: (h + 4) x (round_up(w, 16) + 4) floats.
typedef float v16 __attribute__((vector_size(64)));
#ifdef __AVX512F__
inline v16 vmin(v16 a, v16 b) { return (v16)_mm512_min_ps((__m512)a, (__m512)b); }
inline v16 vmax(v16 a, v16 b) { return (v16)_mm512_max_ps((__m512)a, (__m512)b); }
#else
inline v16 vmin(v16 a, v16 b) { return a < b ? a : b; }
inline v16 vmax(v16 a, v16 b) { return a < b ? b : a; }
#endif
#define CX(i, j)                    \
  {                                 \
    const v16 a = v[i], b = v[j];   \
    v[i] = vmin(a, b);              \
    v[j] = vmax(a, b);              \
  }
void median5(float* plane, int h, int w, float* pad) {
  const int wp = (w + 15) / 16 * 16 + 4;
  for (int y = 0; y < h + 4; ++y) {
    const float* src = plane + (long)std::clamp(y - 2, 0, h - 1) * w;
    float* dst = pad + (long)y * wp;
    dst[0] = dst[1] = src[0];
    std::memcpy(dst + 2, src, sizeof(float) * w);
    for (int x = w + 2; x < wp; ++x) dst[x] = src[w - 1];
  }
  for (int y = 0; y < h; ++y) {
    for (int x0 = 0; x0 < w; x0 += 16) {
      v16 v[25];
      for (int dy = 0; dy < 5; ++dy)
        for (int dx = 0; dx < 5; ++dx)
          std::memcpy(&v[dy * 5 + dx], pad + (long)(y + dy) * wp + x0 + dx, sizeof(v16));
      CX(0, 1) CX(2, 3) CX(0, 2) CX(1, 3) CX(1, 2) CX(4, 5) CX(6, 7) CX(4, 6) CX(5, 7) CX(5, 6) CX(0, 4) CX(2, 6)
      CX(2, 4) CX(1, 5) CX(3, 7) CX(3, 5) CX(1, 2) CX(3, 4) CX(5, 6) CX(8, 9) CX(10, 11) CX(8, 10) CX(9, 11)
      CX(9, 10) CX(12, 13) CX(14, 15) CX(12, 14) CX(13, 15) CX(13, 14) CX(8, 12) CX(10, 14) CX(10, 12) CX(9, 13)
      CX(11, 15) CX(11, 13) CX(9, 10) CX(11, 12) CX(13, 14) CX(0, 8) CX(4, 12) CX(4, 8) CX(2, 10) CX(6, 14)
      CX(6, 10) CX(2, 4) CX(6, 8) CX(10, 12) CX(1, 9) CX(5, 13) CX(5, 9) CX(3, 11) CX(7, 15) CX(7, 11) CX(3, 5)
      CX(7, 9) CX(11, 13) CX(1, 2) CX(3, 4) CX(5, 6) CX(7, 8) CX(9, 10) CX(11, 12) CX(13, 14) CX(16, 17)
      CX(18, 19) CX(16, 18) CX(17, 19) CX(17, 18) CX(20, 21) CX(22, 23) CX(20, 22) CX(21, 23) CX(21, 22)
      CX(16, 20) CX(18, 22) CX(18, 20) CX(17, 21) CX(19, 23) CX(19, 21) CX(17, 18) CX(19, 20) CX(21, 22)
      CX(16, 24) CX(20, 24) CX(18, 20) CX(22, 24) CX(19, 21) CX(17, 18) CX(19, 20) CX(21, 22) CX(23, 24)
      CX(0, 16) CX(8, 24) CX(8, 16) CX(4, 20) CX(12, 20) CX(12, 16) CX(2, 18) CX(10, 18) CX(6, 22) CX(6, 10)
      CX(10, 12) CX(1, 17) CX(9, 17) CX(5, 21) CX(13, 21) CX(13, 17) CX(3, 19) CX(11, 19) CX(7, 23) CX(7, 11)
      CX(11, 13) CX(11, 12)
      const int n = std::min(16, w - x0);
      std::memcpy(plane + (long)y * w + x0, &v[12], sizeof(float) * n);
    }
  }
}
#undef CX

// Whether the pair stops after an iteration whose change sum is ``change`` (iteration ``it``).
bool stops(const Params& q, int it, double change, double& last) {
  if (!q.cuda_rule) return change <= q.threshold;
  const bool measure = it % 2 == 1 && last < q.threshold;
  if (measure && change <= q.threshold) return true;
  last = measure ? change : last - q.threshold;
  return false;
}

// The iterations of one pair, each one sweep: the primal update of row y + 1, then the dual
// update of row y (which needs the new u of rows y and y + 1). Returns the iterations run.
int run_pair(const Planes& s, const Params& q, float* pad, const float* zeros) {
  double last = 0.0;
  for (int it = 0; it < q.total; ++it) {
    if (q.median_every && it % q.median_every == 0) {
      median5(s.u1, q.h, q.w, pad);
      median5(s.u2, q.h, q.w, pad);
    }
    double change = update_u(s, q, 0, zeros);
    for (int y = 0; y < q.h; ++y) {
      if (y + 1 < q.h) change += update_u(s, q, y + 1, zeros);
      update_p(s, q, y);
    }
    if (stops(q, it, (float)change, last)) return it + 1;
  }
  return q.total;
}

// The same with each pass's rows split between ``threads`` threads (two passes an iteration).
int run_pair_rows(const Planes& s, const Params& q, float* pad, const float* zeros, int threads) {
  double last = 0.0;
  std::vector<double> rows(q.h);
  for (int it = 0; it < q.total; ++it) {
    if (q.median_every && it % q.median_every == 0) {
      median5(s.u1, q.h, q.w, pad);
      median5(s.u2, q.h, q.w, pad);
    }
#pragma omp parallel num_threads(threads)
    {
#pragma omp for schedule(static)
      for (int y = 0; y < q.h; ++y) rows[y] = update_u(s, q, y, zeros);
#pragma omp for schedule(static)
      for (int y = 0; y < q.h; ++y) update_p(s, q, y);
    }
    double change = 0.0;
    for (double r : rows) change += r;
    if (stops(q, it, (float)change, last)) return it + 1;
  }
  return q.total;
}

// ---- the rest of the algorithm, per pair (what TorchTVL1.flow does in torch) ----

struct Image {
  int h = 0, w = 0;
  std::vector<float> d;
  Image() = default;
  Image(int h_, int w_) : h(h_), w(w_), d((long)h_ * w_, 0.0f) {}
  float* row(int y) { return d.data() + (long)y * w; }
  const float* row(int y) const { return d.data() + (long)y * w; }
};

struct Scheme {
  int centred, zero_border;
  float cubic_a;
};

struct Axis {
  std::vector<int> lo, hi;
  std::vector<float> frac;
};

// twostream.flow.tvl1._sample_axis.
Axis sample_axis(int size_in, int size_out, double step, bool centred) {
  Axis a;
  for (int i = 0; i < size_out; ++i) {
    double pos = centred ? std::max((i + 0.5) * step - 0.5, 0.0) : i * step;
    const double lo = std::floor(pos);
    const int l = std::clamp((int)lo, 0, size_in - 1);
    a.lo.push_back(l);
    a.hi.push_back(std::min(l + 1, size_in - 1));
    a.frac.push_back((float)(pos - lo));
  }
  return a;
}

inline float lerp(float a, float b, float t) {  // as torch.lerp computes it
  const float diff = b - a;
  return t < 0.5f ? a + t * diff : b - diff * (1.0f - t);
}

// twostream.flow.tvl1.resize_linear.
Image resize(const Image& src, int h, int w, double sy, double sx, bool centred) {
  const Axis ay = sample_axis(src.h, h, sy, centred), ax = sample_axis(src.w, w, sx, centred);
  Image out(h, w);
  std::vector<float> rows(src.w);
  for (int y = 0; y < h; ++y) {
    const float *a = src.row(ay.lo[y]), *b = src.row(ay.hi[y]);
    for (int x = 0; x < src.w; ++x) rows[x] = lerp(a[x], b[x], ay.frac[y]);
    float* o = out.row(y);
    for (int x = 0; x < w; ++x) o[x] = lerp(rows[ax.lo[x]], rows[ax.hi[x]], ax.frac[x]);
  }
  return out;
}

inline float keys(float d, float a) {
  const float near = ((a + 2.0f) * d - (a + 3.0f)) * d * d + 1.0f;
  const float far = ((a * d - 5.0f * a) * d + 8.0f * a) * d - 4.0f * a;
  return d <= 1.0f ? near : far;
}

typedef float v4 __attribute__((vector_size(16)));

// I1 and its centred gradients (replicated border) interleaved, (I1, I1x, I1y, 0) per pixel,
// padded by 2 px (zeros or replicated): the sources of the warp, read 16 bytes a tap
// (twostream.flow.tvl1.centred_gradient and pad_sources).
std::vector<v4> warp_sources(const Image& i1, bool zero_border) {
  const int h = i1.h, w = i1.w, wp = w + 4;
  std::vector<v4> src((long)(h + 4) * wp, v4{0.0f, 0.0f, 0.0f, 0.0f});
  for (int y = 0; y < h; ++y) {
    const float *r = i1.row(y), *up = i1.row(std::max(y - 1, 0)), *dn = i1.row(std::min(y + 1, h - 1));
    for (int x = 0; x < w; ++x)
      src[(long)(y + 2) * wp + x + 2] = v4{r[x], 0.5f * (r[std::min(x + 1, w - 1)] - r[std::max(x - 1, 0)]),
                                           0.5f * (dn[x] - up[x]), 0.0f};
  }
  if (!zero_border) {
    for (int y = 0; y < h + 4; ++y) {
      const long in = (long)std::clamp(y, 2, h + 1) * wp;
      for (int x = 0; x < wp; ++x) src[(long)y * wp + x] = src[in + std::clamp(x, 2, w + 1)];
    }
  }
  return src;
}

// twostream.flow.tvl1.warp: I1 and its gradients sampled bicubically at (x + u1, y + u2);
// writes I1wx, I1wy and rho_c = I1w - grad I1w . u - I0. Per row, the taps' positions and
// weights first (vectorised), then the 16 taps of the three planes at once.
void warp(const std::vector<v4>& src, const Image& i0, const float* u1, const float* u2, float a, float* i1wx,
          float* i1wy, float* rho_c) {
  const int h = i0.h, w = i0.w, hp = h + 4, wp = w + 4;
  std::vector<float> wx(4 * w), wy(4 * w);
  std::vector<int> col(w), row(w);
  for (int y = 0; y < h; ++y) {
    const float* __restrict r1 = u1 + (long)y * w;
    const float* __restrict r2 = u2 + (long)y * w;
#pragma omp simd
    for (int x = 0; x < w; ++x) {
      // far outside, every tap reads the outermost pixel: clamping there changes nothing
      const float px = std::min(std::max((float)x + r1[x], -4.0f), (float)wp + 4.0f);
      const float py = std::min(std::max((float)y + r2[x], -4.0f), (float)hp + 4.0f);
      const float bx = std::floor(px), by = std::floor(py);
      const float fx = px - bx, fy = py - by;
      wx[4 * x] = keys(fx + 1.0f, a);
      wx[4 * x + 1] = keys(fx, a);
      wx[4 * x + 2] = keys(1.0f - fx, a);
      wx[4 * x + 3] = keys(2.0f - fx, a);
      wy[4 * x] = keys(fy + 1.0f, a);
      wy[4 * x + 1] = keys(fy, a);
      wy[4 * x + 2] = keys(1.0f - fy, a);
      wy[4 * x + 3] = keys(2.0f - fy, a);
      col[x] = (int)bx + 1;  // padded column of the first tap (offset -1)
      row[x] = (int)by + 1;
    }
    for (int x = 0; x < w; ++x) {
      const long k = (long)y * w + x;
      const float* wxk = wx.data() + 4 * x;
      const float* wyk = wy.data() + 4 * x;
      v4 acc = v4{0.0f, 0.0f, 0.0f, 0.0f};
      if (col[x] >= 0 && col[x] + 3 < wp && row[x] >= 0 && row[x] + 3 < hp) {  // all 16 taps inside
        const v4* line = src.data() + (long)row[x] * wp + col[x];
        for (int r = 0; r < 4; ++r, line += wp) {
          v4 sum = v4{0.0f, 0.0f, 0.0f, 0.0f};
          for (int t = 0; t < 4; ++t) sum = sum + wxk[t] * line[t];
          acc = acc + wyk[r] * sum;
        }
      } else {  // taps beyond the padding read its outermost pixel
        long cols[4];
        for (int t = 0; t < 4; ++t) cols[t] = std::clamp(col[x] + t, 0, wp - 1);
        for (int r = 0; r < 4; ++r) {
          const v4* line = src.data() + (long)std::clamp(row[x] + r, 0, hp - 1) * wp;
          v4 sum = v4{0.0f, 0.0f, 0.0f, 0.0f};
          for (int t = 0; t < 4; ++t) sum = sum + wxk[t] * line[cols[t]];
          acc = acc + wyk[r] * sum;
        }
      }
      i1wx[k] = acc[1];
      i1wy[k] = acc[2];
      rho_c[k] = acc[0] - acc[1] * u1[k] - acc[2] * u2[k] - i0.d[k];
    }
  }
}

struct FlowParams {
  Params iter;  // h, w and threshold set per level
  Scheme scheme;
  int nscales, warps;
  double epsilon, scale_step;
};

// twostream.flow.tvl1.pyramid_sizes.
std::vector<std::pair<int, int>> pyramid_sizes(int h, int w, int nscales, double scale_step) {
  std::vector<std::pair<int, int>> sizes{{h, w}};
  while ((int)sizes.size() < nscales) {
    const int nh = (int)std::nearbyint(sizes.back().first * scale_step);
    const int nw = (int)std::nearbyint(sizes.back().second * scale_step);
    if (nh < 16 || nw < 16) break;
    sizes.emplace_back(nh, nw);
  }
  return sizes;
}

// The flow of one pair (TorchTVL1.flow): u1, u2 (h, w) out; ``threads`` > 1 splits the
// iterations' rows between threads. Returns its pixel-iterations (pixels times iterations, summed).
long flow_pair(const float* f0, const float* f1, int h, int w, const FlowParams& fp, float* out_u1, float* out_u2,
               int threads) {
  const auto sizes = pyramid_sizes(h, w, fp.nscales, fp.scale_step);
  const double down = 1.0 / fp.scale_step;
  std::vector<Image> l0{Image(h, w)}, l1{Image(h, w)};
  std::copy(f0, f0 + (long)h * w, l0[0].d.begin());
  std::copy(f1, f1 + (long)h * w, l1[0].d.begin());
  for (size_t s = 1; s < sizes.size(); ++s) {
    const auto [sh, sw] = sizes[s];
    l0.push_back(resize(l0.back(), sh, sw, down, down, fp.scheme.centred));
    l1.push_back(resize(l1.back(), sh, sw, down, down, fp.scheme.centred));
  }
  Image u1(sizes.back().first, sizes.back().second), u2 = u1;
  long total = 0;
  for (int s = (int)sizes.size() - 1; s >= 0; --s) {
    const auto [sh, sw] = sizes[s];
    if (s < (int)sizes.size() - 1) {
      const double sy = (double)u1.h / sh, sx = (double)u1.w / sw;
      u1 = resize(u1, sh, sw, sy, sx, fp.scheme.centred);
      u2 = resize(u2, sh, sw, sy, sx, fp.scheme.centred);
      for (auto* u : {&u1, &u2})
        for (float& v : u->d) v = v / (float)fp.scale_step;
    }
    const auto src = warp_sources(l1[s], fp.scheme.zero_border);
    Image p11(sh, sw), p12(sh, sw), p21(sh, sw), p22(sh, sw), gx(sh, sw), gy(sh, sw), rc(sh, sw);
    Params q = fp.iter;
    q.h = sh;
    q.w = sw;
    q.threshold = fp.epsilon * fp.epsilon * sh * sw;
    std::vector<float> pad((long)(sh + 4) * ((sw + 15) / 16 * 16 + 4));
    const std::vector<float> zeros(sw, 0.0f);
    const Planes planes{u1.d.data(), u2.d.data(), p11.d.data(), p12.d.data(), p21.d.data(),
                        p22.d.data(), gx.d.data(), gy.d.data(), rc.d.data()};
    for (int k = 0; k < fp.warps; ++k) {
      warp(src, l0[s], u1.d.data(), u2.d.data(), fp.scheme.cubic_a, gx.d.data(), gy.d.data(), rc.d.data());
      total += (long)sh * sw * (threads > 1 ? run_pair_rows(planes, q, pad.data(), zeros.data(), threads)
                                            : run_pair(planes, q, pad.data(), zeros.data()));
    }
  }
  std::copy(u1.d.begin(), u1.d.end(), out_u1);
  std::copy(u2.d.begin(), u2.d.end(), out_u2);
  return total;
}

}  // namespace

extern "C" {

// Flow (n, 2, h, w) of n pairs of (n, h, w) float32 frames: each pair on one thread, pairs in
// parallel (a batch smaller than ``threads`` splits each pair's rows instead). Parameters as
// TorchTVL1's; centred, zero_border, cubic_a: the variant's Scheme. iterations[n]: pixel-iterations per pair.
int tvl1_flow(int n, int h, int w, const float* i0, const float* i1, float* flow, float tau, float lambda_,
              float theta, int nscales, int warps, double epsilon, double scale_step, int total,
              int median_every, int cuda_rule, int centred, int zero_border, float cubic_a, int threads,
              long* iterations) {
  FlowParams fp{Params{0, 0, lambda_ * theta, theta, tau / theta, 0.0, total, median_every, cuda_rule},
                Scheme{centred, zero_border, cubic_a}, nscales, warps, epsilon, scale_step};
  const long area = (long)h * w;
  if (n < threads) {
    for (int b = 0; b < n; ++b)
      iterations[b] = flow_pair(i0 + b * area, i1 + b * area, h, w, fp, flow + 2 * b * area,
                                flow + (2 * b + 1) * area, threads);
    return 0;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int b = 0; b < n; ++b)
    iterations[b] = flow_pair(i0 + b * area, i1 + b * area, h, w, fp, flow + 2 * b * area,
                              flow + (2 * b + 1) * area, 1);
  return 0;
}

// 5x5 median of n (h, w) planes in place (for tests against cv2.medianBlur).
int tvl1_median5(int n, int h, int w, float* planes) {
  std::vector<float> pad((long)(h + 4) * ((w + 15) / 16 * 16 + 4));
  for (int b = 0; b < n; ++b) median5(planes + (long)b * h * w, h, w, pad.data());
  return 0;
}

}  // extern "C"
