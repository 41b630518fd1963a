// Squared-distance regulariser sum (a - b)^2, forward and backward.
#include "kernels.h"
#include "parallel.h"

namespace cpu {

void squared_distance_forward(const float* a, const float* b, int64_t n, float* out) {
  out[0] = static_cast<float>(detail::deterministic_sum(n, [a, b](int64_t i) {
    const double d = double(a[i]) - double(b[i]);
    return d * d;
  }));
}

void squared_distance_backward(const float* a, const float* b, const float* g, float* da, int64_t n,
                          bool accumulate) {
  const float s = 2.0f * g[0];
#pragma omp parallel for schedule(static) if (n >= detail::kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float v = s * (a[i] - b[i]);
    da[i] = accumulate ? da[i] + v : v;
  }
}

}  // namespace cpu
