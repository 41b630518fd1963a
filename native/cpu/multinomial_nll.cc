// Fused log-softmax + multinomial NLL with multi-hot (nonnegative) targets.
// The backward recomputes the probabilities from logits and the saved lse.
#include <cmath>

#include "kernels.h"
#include "parallel.h"
#include "rowsoftmax.h"
#include "simd.h"

namespace cpu {

namespace {

CLLM4REC_INLINE void forward_impl(const float* logits, const float* t, float* loss, float* lse,
                                  int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r) {
    const float* x = logits + r * C;
    const float* tr = t + r * C;
    const float l = detail::row_logsumexp(x, C);
    // -sum t (x - lse) = lse * sum t - sum t x; t == 0 terms add 0 even where x = -inf.
    double st = 0, stx = 0;
#pragma omp simd reduction(+ : st, stx)
    for (int64_t c = 0; c < C; ++c) {
      st += tr[c];
      stx += tr[c] == 0.0f ? 0.0 : double(tr[c]) * x[c];
    }
    lse[r] = l;
    loss[r] = static_cast<float>(double(l) * st - stx);
  }
}

CLLM4REC_INLINE void backward_impl(const float* logits, const float* t, const float* lse,
                                   const float* dloss, float* dlogits, int64_t R, int64_t C,
                                   bool accumulate) {
  for (int64_t r = 0; r < R; ++r) {
    const float* x = logits + r * C;
    const float* tr = t + r * C;
    float* dx = dlogits + r * C;
    double st = 0;
#pragma omp simd reduction(+ : st)
    for (int64_t c = 0; c < C; ++c) st += tr[c];
    const float sumT = static_cast<float>(st), l = lse[r], g = dloss[r];
    // Each element is read before it is written, so dlogits may alias logits.
    if (accumulate) {
      for (int64_t c = 0; c < C; ++c) dx[c] += g * (detail::exp_approx(x[c] - l) * sumT - tr[c]);
    } else {
      for (int64_t c = 0; c < C; ++c) dx[c] = g * (detail::exp_approx(x[c] - l) * sumT - tr[c]);
    }
  }
}

CLLM4REC_AVX512 void forward_avx512(const float* logits, const float* t, float* loss, float* lse,
                                    int64_t R, int64_t C) {
  forward_impl(logits, t, loss, lse, R, C);
}
void forward_generic(const float* logits, const float* t, float* loss, float* lse, int64_t R,
                     int64_t C) {
  forward_impl(logits, t, loss, lse, R, C);
}
CLLM4REC_AVX512 void backward_avx512(const float* logits, const float* t, const float* lse,
                                     const float* dloss, float* dlogits, int64_t R, int64_t C,
                                     bool accumulate) {
  backward_impl(logits, t, lse, dloss, dlogits, R, C, accumulate);
}
void backward_generic(const float* logits, const float* t, const float* lse, const float* dloss,
                      float* dlogits, int64_t R, int64_t C, bool accumulate) {
  backward_impl(logits, t, lse, dloss, dlogits, R, C, accumulate);
}

}  // namespace

// OpenMP stays out of the ISA clones (outlined parallel bodies lose the target
// attribute): rows are shared out here and each row runs the vectorised clone.
void multinomial_nll_forward(const float* logits, const float* t, float* loss, float* lse,
                             int64_t R, int64_t C) {
  const auto row = detail::has_avx512() ? forward_avx512 : forward_generic;
#pragma omp parallel for schedule(dynamic, 1) if (R * C >= detail::kParallelGrain)
  for (int64_t r = 0; r < R; ++r) row(logits + r * C, t + r * C, loss + r, lse + r, 1, C);
}

void multinomial_nll_backward(const float* logits, const float* t, const float* lse,
                              const float* dloss, float* dlogits, int64_t R, int64_t C,
                              bool accumulate) {
  const auto row = detail::has_avx512() ? backward_avx512 : backward_generic;
#pragma omp parallel for schedule(dynamic, 1) if (R * C >= detail::kParallelGrain)
  for (int64_t r = 0; r < R; ++r) row(logits + r * C, t + r * C, lse + r, dloss + r, dlogits + r * C, 1, C, accumulate);
}

}  // namespace cpu
