// Fused softmax + cross-entropy over C classes with masked rows (target < 0).
// The backward recomputes the probabilities from logits and the saved lse.
#include <cmath>

#include "kernels.h"
#include "parallel.h"
#include "rowsoftmax.h"
#include "simd.h"

namespace cpu {

namespace {

CLLM4REC_INLINE void forward_impl(const float* logits, const int32_t* target, float* loss,
                                  float* lse, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r) {
    if (target[r] < 0) {
      loss[r] = 0.0f;
      lse[r] = 0.0f;
      continue;
    }
    const float* x = logits + r * C;
    const float l = detail::row_logsumexp(x, C);
    lse[r] = l;
    loss[r] = l - x[target[r]];
  }
}

CLLM4REC_INLINE void backward_impl(const float* logits, const int32_t* target, const float* lse,
                                   const float* dloss, float* dlogits, int64_t R, int64_t C,
                                   bool accumulate) {
  for (int64_t r = 0; r < R; ++r) {
    const float* x = logits + r * C;
    float* dx = dlogits + r * C;
    const int32_t t = target[r];
    if (t < 0) {
      if (!accumulate)
        for (int64_t c = 0; c < C; ++c) dx[c] = 0.0f;
      continue;
    }
    const float l = lse[r], g = dloss[r];
    // x[c] is read before dx[c] is written, so dlogits may alias logits.
    if (accumulate) {
      for (int64_t c = 0; c < C; ++c) dx[c] += g * detail::exp_approx(x[c] - l);
    } else {
      for (int64_t c = 0; c < C; ++c) dx[c] = g * detail::exp_approx(x[c] - l);
    }
    dx[t] -= g;  // the one-hot term, after the loop so in-place use stays correct
  }
}

CLLM4REC_AVX512 void forward_avx512(const float* logits, const int32_t* target, float* loss,
                                    float* lse, int64_t R, int64_t C) {
  forward_impl(logits, target, loss, lse, R, C);
}
void forward_generic(const float* logits, const int32_t* target, float* loss, float* lse,
                     int64_t R, int64_t C) {
  forward_impl(logits, target, loss, lse, R, C);
}
CLLM4REC_AVX512 void backward_avx512(const float* logits, const int32_t* target,
                                     const float* lse, const float* dloss, float* dlogits,
                                     int64_t R, int64_t C, bool accumulate) {
  backward_impl(logits, target, lse, dloss, dlogits, R, C, accumulate);
}
void backward_generic(const float* logits, const int32_t* target, const float* lse,
                      const float* dloss, float* dlogits, int64_t R, int64_t C, bool accumulate) {
  backward_impl(logits, target, lse, dloss, dlogits, R, C, accumulate);
}

}  // namespace

// OpenMP stays out of the ISA clones (outlined parallel bodies lose the target
// attribute): rows are shared out here and each row runs the vectorised clone.
void cross_entropy_forward(const float* logits, const int32_t* target, float* loss, float* lse,
                          int64_t R, int64_t C) {
  const auto row = detail::has_avx512() ? forward_avx512 : forward_generic;
#pragma omp parallel for schedule(dynamic, 1) if (R * C >= detail::kParallelGrain)
  for (int64_t r = 0; r < R; ++r) row(logits + r * C, target + r, loss + r, lse + r, 1, C);
}

void cross_entropy_backward(const float* logits, const int32_t* target, const float* lse,
                           const float* dloss, float* dlogits, int64_t R, int64_t C,
                           bool accumulate) {
  const auto row = detail::has_avx512() ? backward_avx512 : backward_generic;
#pragma omp parallel for schedule(dynamic, 1) if (R * C >= detail::kParallelGrain)
  for (int64_t r = 0; r < R; ++r) row(logits + r * C, target + r, lse + r, dloss + r, dlogits + r * C, 1, C, accumulate);
}

}  // namespace cpu
