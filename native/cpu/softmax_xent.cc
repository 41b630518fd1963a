// Fused softmax + cross-entropy over C classes with masked rows (target < 0).
// The backward recomputes the probabilities from logits and the saved lse.
#include <cmath>

#include "kernels.h"
#include "parallel.h"
#include "rowsoftmax.h"

namespace cpu {

void softmax_xent_forward(const float* logits, const int32_t* target, float* loss, float* lse,
                          int64_t R, int64_t C) {
#pragma omp parallel for schedule(dynamic, 1) if (R * C >= detail::kParallelGrain)
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

void softmax_xent_backward(const float* logits, const int32_t* target, const float* lse,
                           const float* dloss, float* dlogits, int64_t R, int64_t C,
                           bool accumulate) {
#pragma omp parallel for schedule(dynamic, 1) if (R * C >= detail::kParallelGrain)
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
    for (int64_t c = 0; c < C; ++c) {
      const float v = g * (std::exp(x[c] - l) - (c == t ? 1.0f : 0.0f));
      dx[c] = accumulate ? dx[c] + v : v;
    }
  }
}

}  // namespace cpu
