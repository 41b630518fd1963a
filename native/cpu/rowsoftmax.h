// Row-wise log-sum-exp shared by the fused softmax losses (internal to native/cpu).
#pragma once
#include <cmath>
#include <cstdint>

#include "simd.h"

namespace cpu {
namespace detail {

// Stable log(sum_c exp(x[c])): subtract the max, accumulate the exponentials in double.
CLLM4REC_INLINE float row_logsumexp(const float* x, int64_t C) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int64_t c = 0; c < C; ++c) mx = x[c] > mx ? x[c] : mx;
  if (mx == -INFINITY) return -INFINITY;
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < C; ++c) s += exp_approx(x[c] - mx);
  return static_cast<float>(double(mx) + std::log(s));
}

}  // namespace detail
}  // namespace cpu
