// Fused log-softmax + multinomial NLL with multi-hot (nonnegative) targets.
// The backward recomputes the probabilities from logits and the saved lse.
#include <cmath>

#include "kernels.h"
#include "parallel.h"
#include "rowsoftmax.h"

namespace cpu {

void multinomial_nll_forward(const float* logits, const float* t, float* loss, float* lse,
                             int64_t R, int64_t C) {
#pragma omp parallel for schedule(dynamic, 1) if (R * C >= detail::kParallelGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float* x = logits + r * C;
    const float* tr = t + r * C;
    const float l = detail::row_logsumexp(x, C);
    // -sum t (x - lse) = lse * sum t - sum t x; terms with t == 0 are skipped (x may be -inf).
    double st = 0, stx = 0;
    for (int64_t c = 0; c < C; ++c) {
      if (tr[c] == 0.0f) continue;
      st += tr[c];
      stx += double(tr[c]) * x[c];
    }
    lse[r] = l;
    loss[r] = static_cast<float>(double(l) * st - stx);
  }
}

void multinomial_nll_backward(const float* logits, const float* t, const float* lse,
                              const float* dloss, float* dlogits, int64_t R, int64_t C,
                              bool accumulate) {
#pragma omp parallel for schedule(dynamic, 1) if (R * C >= detail::kParallelGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float* x = logits + r * C;
    const float* tr = t + r * C;
    float* dx = dlogits + r * C;
    double st = 0;
    for (int64_t c = 0; c < C; ++c) st += tr[c];
    const float sumT = static_cast<float>(st), l = lse[r], g = dloss[r];
    // Each element is read before it is written, so dlogits may alias logits.
    for (int64_t c = 0; c < C; ++c) {
      const float v = g * (std::exp(x[c] - l) * sumT - tr[c]);
      dx[c] = accumulate ? dx[c] + v : v;
    }
  }
}

}  // namespace cpu
