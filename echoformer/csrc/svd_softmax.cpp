// SVD-softmax CPU kernels (float32), called from echoformer/svd_softmax.py.
//
// preview:   logits (R, V) = bias + x (R, W) · headᵀ, the head stored in panels (P, W, 16):
//            panel p holds words 16p .. 16p+15, so the whole preview is one sequential stream
//            of V·W weights, read once for all R rows; also the sample logits[:, ::16].
// add_tails: for the union's words u (ascending ids), logits[r, u] += tail[u] · x_tail[r];
//            returns those exact logits (R, U). Each tail row (D−W contiguous weights) is read
//            once, straight from the factor matrix (no gathered copy), for all R rows.
// union_ids: the words whose preview reaches some row's threshold, in one pass over (R, V).
// All split their words over torch's intra-op threads.

// Registered as torch.ops.echoformer_svd.* (torch/library.h, no Python binding): the light
// headers keep the first-use build short.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdint>
#include <tuple>
#include <vector>

namespace {

constexpr int64_t kLanes = 16;    // words per panel
constexpr int kMaxRows = 8;       // rows per pass; more rows take several passes
constexpr int64_t kPrefetchRows = 8;  // tail rows ahead of the one being read, into L2

template <int R>
void preview_panels(const float* x, int64_t x_stride, int64_t width, const float* panels,
                    const float* bias, float* out, int64_t out_stride, int64_t vocab,
                    float* sample, int64_t sample_stride, int64_t begin, int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    float acc[R][kLanes] = {};
    const float* panel = panels + p * width * kLanes;
    for (int64_t w = 0; w < width; ++w) {
      const float* column = panel + w * kLanes;
      for (int r = 0; r < R; ++r) {
        const float xr = x[r * x_stride + w];
#pragma omp simd
        for (int64_t j = 0; j < kLanes; ++j) acc[r][j] += xr * column[j];
      }
    }
    const int64_t first = p * kLanes, count = std::min(kLanes, vocab - first);
    for (int r = 0; r < R; ++r) {
      float* row = out + r * out_stride + first;
      for (int64_t j = 0; j < count; ++j) row[j] = bias[first + j] + acc[r][j];
      sample[r * sample_stride + p] = row[0];
    }
  }
}

// Σ_i keep[i] · e^(row[i] − t) for row[i] ≤ t where keep[i] ≠ 0 (keep: 0 or 1), with e^x =
// 2^n · p(x − n·ln 2), n = round(x / ln 2), p a degree-7 Taylor polynomial (relative error
// < 1e-7 on |x − n·ln 2| ≤ ln 2 / 2); e^x below 2^-126 counts as 0.
inline float exp_poly(float r) {
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  return p * r + 1.0f;
}

constexpr float kLog2e = 1.44269504f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;

float rest_mass(const float* row, const float* keep, int64_t count, float t) {
  int64_t i = 0;
  float total = 0.0f;
#ifdef __AVX512F__
  __m512 sum = _mm512_setzero_ps();
  const __m512 vt = _mm512_set1_ps(t), floor_x = _mm512_set1_ps(-87.0f);
  for (; i + 16 <= count; i += 16) {
    __m512 x = _mm512_max_ps(_mm512_sub_ps(_mm512_loadu_ps(row + i), vt), floor_x);
    x = _mm512_min_ps(x, _mm512_setzero_ps());
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    sum = _mm512_fmadd_ps(_mm512_scalef_ps(p, n), _mm512_loadu_ps(keep + i), sum);
  }
  total = _mm512_reduce_add_ps(sum);
#endif
  for (; i < count; ++i) {
    const float x = std::min(std::max(row[i] - t, -87.0f), 0.0f);
    const float n = std::nearbyint(x * kLog2e);
    const float r = (x - n * kLn2Hi) - n * kLn2Lo;
    total += keep[i] * std::ldexp(exp_poly(r), static_cast<int>(n));
  }
  return total;
}

inline float lane_sum(const float* lanes) {
#ifdef __AVX512F__
  return _mm512_reduce_add_ps(_mm512_loadu_ps(lanes));
#else
  float half[kLanes / 2];
  for (int64_t j = 0; j < kLanes / 2; ++j) half[j] = lanes[j] + lanes[j + kLanes / 2];
  float sum = 0.0f;
  for (int64_t j = 0; j < kLanes / 2; ++j) sum += half[j];
  return sum;
#endif
}

inline void prefetch_tail(const float* tail, const int64_t* ids, int64_t width, int64_t u,
                          int64_t end) {
  if (u + kPrefetchRows < end) {  // scattered rows: keep several in flight from memory
    const char* far = reinterpret_cast<const char*>(tail + ids[u + kPrefetchRows] * width);
    for (int64_t b = 0; b < width * 4; b += 64) __builtin_prefetch(far + b, 0, 2);
  }
  if (u + 2 < end) {
    const char* near = reinterpret_cast<const char*>(tail + ids[u + 2] * width);
    for (int64_t b = 0; b < width * 4; b += 64) __builtin_prefetch(near + b, 0, 3);
  }
}

// K union words at once (u .. u+K−1) for R rows: each x load serves K tail rows.
template <int R, int K>
void add_tail_words(const float* x, int64_t x_stride, int64_t width, const float* tail,
                    const int64_t* ids, float* logits, int64_t logits_stride, float* exact,
                    int64_t exact_stride, int64_t u) {
  const float* weights[K];
  for (int k = 0; k < K; ++k) weights[k] = tail + ids[u + k] * width;
  float acc[K][R][kLanes] = {};
  int64_t t = 0;
  for (; t + kLanes <= width; t += kLanes) {
    for (int r = 0; r < R; ++r) {
      const float* xr = x + r * x_stride + t;
      for (int k = 0; k < K; ++k) {
#pragma omp simd
        for (int64_t j = 0; j < kLanes; ++j) acc[k][r][j] += weights[k][t + j] * xr[j];
      }
    }
  }
  for (int k = 0; k < K; ++k) {
    for (int r = 0; r < R; ++r) {
      float sum = lane_sum(acc[k][r]);
      for (int64_t s = t; s < width; ++s) sum += weights[k][s] * x[r * x_stride + s];
      float& logit = logits[r * logits_stride + ids[u + k]];
      logit += sum;
      exact[r * exact_stride + u + k] = logit;
    }
  }
}

template <int R>
void add_tail_rows(const float* x, int64_t x_stride, int64_t width, const float* tail,
                   const int64_t* ids, float* logits, int64_t logits_stride, float* exact,
                   int64_t exact_stride, int64_t begin, int64_t end) {
  int64_t u = begin;
  for (; u + 2 <= end; u += 2) {
    prefetch_tail(tail, ids, width, u, end);
    prefetch_tail(tail, ids, width, u + 1, end);
    add_tail_words<R, 2>(x, x_stride, width, tail, ids, logits, logits_stride, exact,
                         exact_stride, u);
  }
  if (u < end)
    add_tail_words<R, 1>(x, x_stride, width, tail, ids, logits, logits_stride, exact,
                         exact_stride, u);
}

template <template <int> class Kernel, typename... Args>
void dispatch_rows(int rows, Args... args) {
  switch (rows) {
    case 1: Kernel<1>::run(args...); break;
    case 2: Kernel<2>::run(args...); break;
    case 3: Kernel<3>::run(args...); break;
    case 4: Kernel<4>::run(args...); break;
    case 5: Kernel<5>::run(args...); break;
    case 6: Kernel<6>::run(args...); break;
    case 7: Kernel<7>::run(args...); break;
    default: Kernel<8>::run(args...); break;
  }
}

template <int R>
struct PreviewKernel {
  template <typename... Args>
  static void run(Args... args) { preview_panels<R>(args...); }
};

template <int R>
struct TailKernel {
  template <typename... Args>
  static void run(Args... args) { add_tail_rows<R>(args...); }
};

void check_matrix(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat,
              name, " must be a float32 CPU tensor");
  TORCH_CHECK(t.dim() == 2 && t.stride(1) == 1, name, " must be 2-D with contiguous rows");
}

}  // namespace

// x: (R, W) rows (row stride free); panels: (P, W, 16) contiguous; bias: (V,)
// -> (logits (R, V), their stride-16 sample logits[:, ::16] (R, P), contiguous).
std::tuple<at::Tensor, at::Tensor> preview(const at::Tensor& x, const at::Tensor& panels,
                      const at::Tensor& bias) {
  check_matrix(x, "x");
  TORCH_CHECK(panels.is_contiguous() && panels.dim() == 3 && panels.size(2) == kLanes &&
                  panels.scalar_type() == at::kFloat && panels.device().is_cpu(),
              "panels must be a contiguous float32 CPU tensor (P, W, 16)");
  TORCH_CHECK(bias.is_contiguous() && bias.dim() == 1 && bias.scalar_type() == at::kFloat,
              "bias must be a contiguous float32 vector");
  const int64_t rows = x.size(0), width = x.size(1), vocab = bias.size(0);
  TORCH_CHECK(panels.size(1) == width, "panels hold W=", panels.size(1), ", x has ", width);
  TORCH_CHECK(panels.size(0) == (vocab + kLanes - 1) / kLanes, "panels do not cover V=", vocab);
  auto out = at::empty({rows, vocab}, x.options());
  auto sample = at::empty({rows, panels.size(0)}, x.options());
  float* sp = sample.data_ptr<float>();
  const int64_t sample_stride = panels.size(0);
  const float* xp = x.data_ptr<float>();
  const float* pp = panels.data_ptr<float>();
  const float* bp = bias.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t x_stride = x.stride(0);
  // ~64 KB of panels per task: enough to amortise the split, fine enough to balance threads
  const int64_t grain = std::max<int64_t>(1, 4096 / width);
  for (int64_t r0 = 0; r0 < rows; r0 += kMaxRows) {
    const int n = static_cast<int>(std::min<int64_t>(kMaxRows, rows - r0));
    at::parallel_for(0, panels.size(0), grain, [&](int64_t begin, int64_t end) {
      dispatch_rows<PreviewKernel>(n, xp + r0 * x_stride, x_stride, width, pp, bp,
                                   op + r0 * vocab, vocab, vocab, sp + r0 * sample_stride,
                                   sample_stride, begin, end);
    });
  }
  return {out, sample};
}

// logits: (R, V) contiguous, updated in place; x_tail: (R, T); tail: (V, T) contiguous;
// ids: (U,) int64 ascending, distinct -> exact logits (R, U).
at::Tensor add_tails(at::Tensor& logits, const at::Tensor& x_tail,
                        const at::Tensor& tail, const at::Tensor& ids) {
  check_matrix(logits, "logits");
  check_matrix(x_tail, "x_tail");
  check_matrix(tail, "tail");
  TORCH_CHECK(logits.is_contiguous() && tail.is_contiguous(), "logits and tail must be contiguous");
  TORCH_CHECK(ids.dim() == 1 && ids.scalar_type() == at::kLong && ids.is_contiguous(),
              "ids must be a contiguous int64 vector");
  const int64_t rows = x_tail.size(0), width = x_tail.size(1), count = ids.size(0);
  TORCH_CHECK(logits.size(0) == rows && tail.size(1) == width && tail.size(0) == logits.size(1),
              "add_tails: shapes of logits, x_tail and tail do not agree");
  auto exact = at::empty({rows, count}, logits.options());
  const float* xp = x_tail.data_ptr<float>();
  const float* tp = tail.data_ptr<float>();
  const int64_t* ip = ids.data_ptr<int64_t>();
  float* lp = logits.data_ptr<float>();
  float* ep = exact.data_ptr<float>();
  const int64_t x_stride = x_tail.stride(0), vocab = logits.size(1);
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width));
  for (int64_t r0 = 0; r0 < rows; r0 += kMaxRows) {
    const int n = static_cast<int>(std::min<int64_t>(kMaxRows, rows - r0));
    at::parallel_for(0, count, grain, [&](int64_t begin, int64_t end) {
      dispatch_rows<TailKernel>(n, xp + r0 * x_stride, x_stride, width, tp, ip,
                                lp + r0 * vocab, vocab, ep + r0 * count, count, begin, end);
    });
  }
  return exact;
}

// preview: (R, V) contiguous; thresholds: (R,); always: (A,) int64 ascending word ids.
// -> (ids (U,) ascending: the words whose preview reaches the threshold of some row, plus
//     `always`; signs (R,) int64: Σ_v sign(preview[r, v] − thresholds[r]); rest (R,) float64:
//     Σ_{v ∉ ids} exp(preview[r, v] − thresholds[r]), each term < 1), in one pass.
std::tuple<at::Tensor, at::Tensor, at::Tensor> union_ids(const at::Tensor& preview, const at::Tensor& thresholds,
                                     const at::Tensor& always) {
  check_matrix(preview, "preview");
  TORCH_CHECK(preview.is_contiguous(), "preview must be contiguous");
  TORCH_CHECK(thresholds.is_contiguous() && thresholds.numel() == preview.size(0) &&
                  thresholds.scalar_type() == at::kFloat,
              "thresholds must hold one float32 per row");
  TORCH_CHECK(always.dim() == 1 && always.scalar_type() == at::kLong && always.is_contiguous(),
              "always must be a contiguous int64 vector");
  const int64_t rows = preview.size(0), vocab = preview.size(1), forced = always.size(0);
  const float* pp = preview.data_ptr<float>();
  const float* tp = thresholds.data_ptr<float>();
  const int64_t* ap = always.data_ptr<int64_t>();
  const int64_t chunk = 8192;
  const int64_t chunks = (vocab + chunk - 1) / chunk;
  std::vector<std::vector<int64_t>> found(chunks);
  std::vector<int64_t> signs(chunks * rows, 0);
  std::vector<double> rests(chunks * rows, 0.0);
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int64_t v0 = c * chunk, v1 = std::min(vocab, v0 + chunk);
      std::vector<float> keep(v1 - v0, 1.0f);  // 1: outside the union so far
      float* kp = keep.data();
      for (int64_t r = 0; r < rows; ++r) {
        const float* row = pp + r * vocab;
        const float t = tp[r];
        int64_t above = 0, below = 0;
        for (int64_t v = v0; v < v1; ++v) {
          above += row[v] > t;
          below += row[v] < t;
          kp[v - v0] = row[v] >= t ? 0.0f : kp[v - v0];
        }
        signs[c * rows + r] = above - below;
      }
      const int64_t* a = std::lower_bound(ap, ap + forced, v0);
      for (; a < ap + forced && *a < v1; ++a) kp[*a - v0] = 0.0f;
      for (int64_t r = 0; r < rows; ++r)
        rests[c * rows + r] = rest_mass(pp + r * vocab + v0, keep.data(), v1 - v0, tp[r]);
      auto& ids = found[c];
      for (int64_t v = v0; v < v1; ++v)
        if (kp[v - v0] == 0.0f) ids.push_back(v);
    }
  });
  int64_t total = 0;
  for (const auto& ids : found) total += static_cast<int64_t>(ids.size());
  auto ids = at::empty({total}, at::TensorOptions().dtype(at::kLong));
  auto sums = at::zeros({rows}, at::TensorOptions().dtype(at::kLong));
  auto rest = at::zeros({rows}, at::TensorOptions().dtype(at::kDouble));
  int64_t* out = ids.data_ptr<int64_t>();
  int64_t* sp = sums.data_ptr<int64_t>();
  double* rp = rest.data_ptr<double>();
  for (int64_t c = 0; c < chunks; ++c) {
    out = std::copy(found[c].begin(), found[c].end(), out);
    for (int64_t r = 0; r < rows; ++r) {
      sp[r] += signs[c * rows + r];
      rp[r] += rests[c * rows + r];
    }
  }
  return {ids, sums, rest};
}

// rows: (R, V) contiguous -> (R,): the rank-th largest of rows[r, ::stride] (rank ≥ 1),
// the value `topk(rank).values.amin()` gives, by a selection in place of a partial sort.
at::Tensor nth_largest(const at::Tensor& rows, int64_t stride, int64_t rank) {
  check_matrix(rows, "rows");
  TORCH_CHECK(rows.is_contiguous() && stride >= 1, "rows must be contiguous, stride ≥ 1");
  const int64_t count = rows.size(0), length = (rows.size(1) + stride - 1) / stride;
  TORCH_CHECK(1 <= rank && rank <= length, "rank ", rank, " outside 1..", length);
  auto out = at::empty({count}, rows.options());
  const float* rp = rows.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t vocab = rows.size(1);
  at::parallel_for(0, count, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> sample(length);
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t i = 0; i < length; ++i) sample[i] = rp[r * vocab + i * stride];
      std::nth_element(sample.begin(), sample.begin() + (rank - 1), sample.end(),
                       std::greater<float>());
      op[r] = sample[rank - 1];
    }
  });
  return out;
}

TORCH_LIBRARY(echoformer_svd, m) {
  m.def("preview(Tensor x, Tensor panels, Tensor bias) -> (Tensor, Tensor)");
  m.def("add_tails(Tensor(a!) logits, Tensor x_tail, Tensor tail, Tensor ids) -> Tensor");
  m.def("nth_largest(Tensor rows, int stride, int rank) -> Tensor");
  m.def("union_ids(Tensor preview, Tensor thresholds, Tensor always) -> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(echoformer_svd, CPU, m) {
  m.impl("preview", &preview);
  m.impl("add_tails", &add_tails);
  m.impl("nth_largest", &nth_largest);
  m.impl("union_ids", &union_ids);
}
