// Fused log-softmax + multinomial NLL against sparse (CSR) targets, over one chunk of
// columns [c0, c0 + W) at a time so a head may stream the logits; the backward
// recomputes the probabilities from logits and the saved lse.
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels.h"
#include "parallel.h"
#include "rowsoftmax.h"
#include "simd.h"

namespace cpu {

namespace {

struct Csr {
  const int32_t* rowPtr;
  const int32_t* cols;
  const float* values;  // null: every weight is 1 (multi-hot)
  float weight(int64_t k) const { return values ? values[k] : 1.0f; }
};

// Sum of the row's weights over all C columns, in double as the dense reduction was.
double row_weight(const Csr& t, int64_t r) {
  double st = 0;
  for (int64_t k = t.rowPtr[r]; k < t.rowPtr[r + 1]; ++k) st += t.weight(k);
  return st;
}

// log(exp(a) + exp(b)) of two partial log-sum-exps (-inf: nothing seen yet).
float merge_lse(float a, float b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  const double m = a > b ? a : b, o = a > b ? b : a;
  return static_cast<float>(m + std::log1p(std::exp(o - m)));
}

CLLM4REC_INLINE void forward_row(const float* x, int64_t r, int64_t W, int64_t c0, const Csr& t,
                                 float* lse, float* stx, float* loss, bool first, bool last) {
  const float l = detail::row_logsumexp(x, W);
  double sx = first ? 0.0 : double(stx[r]);
  for (int64_t k = t.rowPtr[r]; k < t.rowPtr[r + 1]; ++k) {
    const int64_t c = t.cols[k] - c0;
    const float w = t.weight(k);
    if (c >= 0 && c < W && w != 0.0f) sx += double(w) * x[c];  // w == 0 adds 0 even where x = -inf
  }
  const float L = first ? l : merge_lse(lse[r], l);
  lse[r] = L;
  stx[r] = static_cast<float>(sx);
  // -sum t (x - lse) = lse * sum t - sum t x
  if (last) loss[r] = static_cast<float>(double(L) * row_weight(t, r) - sx);
}

CLLM4REC_INLINE void backward_row(const float* x, int64_t r, int64_t W, int64_t c0, const Csr& t,
                                  const float* lse, const float* dloss, float* dx, bool accumulate) {
  const float sumT = static_cast<float>(row_weight(t, r)), l = lse[r], g = dloss[r];
  // Dense spans between the (increasing) target columns: each element gets the dense
  // formula with its own weight (0 between targets), so the result equals the dense
  // kernel's bit for bit. Each element is read before it is written (dlogits may alias).
  auto span = [&](int64_t a, int64_t b) {
    if (accumulate) {
      for (int64_t c = a; c < b; ++c) dx[c] += g * (detail::exp_approx(x[c] - l) * sumT);
    } else {
      for (int64_t c = a; c < b; ++c) dx[c] = g * (detail::exp_approx(x[c] - l) * sumT);
    }
  };
  int64_t next = 0;
  for (int64_t k = t.rowPtr[r]; k < t.rowPtr[r + 1]; ++k) {
    const int64_t c = t.cols[k] - c0;
    if (c < 0 || c >= W) continue;
    span(next, c);
    const float v = g * (detail::exp_approx(x[c] - l) * sumT - t.weight(k));
    dx[c] = accumulate ? dx[c] + v : v;
    next = c + 1;
  }
  span(next, W);
}

CLLM4REC_AVX512 void forward_avx512(const float* x, int64_t r, int64_t W, int64_t c0, const Csr& t,
                                    float* lse, float* stx, float* loss, bool first, bool last) {
  forward_row(x, r, W, c0, t, lse, stx, loss, first, last);
}
CLLM4REC_AVX2 void forward_avx2(const float* x, int64_t r, int64_t W, int64_t c0, const Csr& t, float* lse,
                                float* stx, float* loss, bool first, bool last) {
  forward_row(x, r, W, c0, t, lse, stx, loss, first, last);
}
void forward_generic(const float* x, int64_t r, int64_t W, int64_t c0, const Csr& t, float* lse,
                     float* stx, float* loss, bool first, bool last) {
  forward_row(x, r, W, c0, t, lse, stx, loss, first, last);
}
CLLM4REC_AVX512 void backward_avx512(const float* x, int64_t r, int64_t W, int64_t c0, const Csr& t,
                                     const float* lse, const float* dloss, float* dx, bool accumulate) {
  backward_row(x, r, W, c0, t, lse, dloss, dx, accumulate);
}
CLLM4REC_AVX2 void backward_avx2(const float* x, int64_t r, int64_t W, int64_t c0, const Csr& t,
                                 const float* lse, const float* dloss, float* dx, bool accumulate) {
  backward_row(x, r, W, c0, t, lse, dloss, dx, accumulate);
}
void backward_generic(const float* x, int64_t r, int64_t W, int64_t c0, const Csr& t,
                      const float* lse, const float* dloss, float* dx, bool accumulate) {
  backward_row(x, r, W, c0, t, lse, dloss, dx, accumulate);
}

// Rows in order and each row's columns strictly increasing within [0, C), else a
// std::out_of_range (a RangeError naming the op) before anything is written.
void check_targets(const Csr& t, int64_t R, int64_t C, int64_t nnz) {
  using std::to_string;
  if (t.rowPtr[0] != 0 || t.rowPtr[R] != nnz)
    throw std::out_of_range("rowPtr must run from 0 to nnz " + to_string(nnz) + ", got " +
                            to_string(t.rowPtr[0]) + " .. " + to_string(t.rowPtr[R]));
  for (int64_t r = 0; r < R; ++r)  // every row within [0, nnz] before any column is read
    if (t.rowPtr[r + 1] < t.rowPtr[r])
      throw std::out_of_range("rowPtr decreases at row " + to_string(r) + " (" + to_string(t.rowPtr[r]) +
                              " > " + to_string(t.rowPtr[r + 1]) + ")");
  for (int64_t r = 0; r < R; ++r)
    for (int64_t k = t.rowPtr[r]; k < t.rowPtr[r + 1]; ++k) {
      const bool out = t.cols[k] < 0 || t.cols[k] >= C, order = k > t.rowPtr[r] && t.cols[k] <= t.cols[k - 1];
      if (!out && !order) continue;
      const std::string at = "column " + to_string(t.cols[k]) + " of row " + to_string(r);
      throw std::out_of_range(out ? at + " is outside [0, " + to_string(C) + ")"
                                  : at + " is not above the previous column " + to_string(t.cols[k - 1]) +
                                        " (a row's columns must increase)");
    }
}

}  // namespace

// OpenMP stays out of the ISA clones (outlined parallel bodies lose the target
// attribute): rows are shared out here and each row runs the vectorised clone.
void multinomial_nll_forward(const float* logits, int64_t R, int64_t W, int64_t c0, int64_t C,
                             const int32_t* rowPtr, const int32_t* cols, const float* values,
                             int64_t nnz, float* lse, float* stx, float* loss, bool first,
                             bool last) {
  const Csr t{rowPtr, cols, values};
  check_targets(t, R, C, nnz);
  const auto row = detail::pick(forward_avx512, forward_avx2, forward_generic);
#pragma omp parallel for schedule(dynamic, 1) if (R * W >= detail::kParallelGrain)
  for (int64_t r = 0; r < R; ++r) row(logits + r * W, r, W, c0, t, lse, stx, loss, first, last);
}

void multinomial_nll_backward(const float* logits, int64_t R, int64_t W, int64_t c0, int64_t C,
                              const int32_t* rowPtr, const int32_t* cols, const float* values,
                              int64_t nnz, const float* lse, const float* dloss, float* dlogits,
                              bool accumulate) {
  const Csr t{rowPtr, cols, values};
  check_targets(t, R, C, nnz);
  const auto row = detail::pick(backward_avx512, backward_avx2, backward_generic);
#pragma omp parallel for schedule(dynamic, 1) if (R * W >= detail::kParallelGrain)
  for (int64_t r = 0; r < R; ++r) row(logits + r * W, r, W, c0, t, lse, dloss, dlogits + r * W, accumulate);
}

}  // namespace cpu
