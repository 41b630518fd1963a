// Adam (no weight decay), one in-place step with bias correction.
#include <cmath>

#include "kernels.h"
#include "parallel.h"

namespace cpu {

void adam(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
          float beta2, float eps, int64_t step) {
  const float c1 = static_cast<float>(1.0 - std::pow(double(beta1), double(step)));
  const float c2 = static_cast<float>(1.0 - std::pow(double(beta2), double(step)));
#pragma omp parallel for schedule(static) if (n >= detail::kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr * (mi / c1) / (std::sqrt(vi / c2) + eps);
  }
}

}  // namespace cpu
