// Adam (no weight decay), one in-place step with bias correction, and the step's non-finite
// guard whose flag makes every later update a no-op.
#include <cmath>
#include <cstring>

#include "kernels.h"
#include "parallel.h"

namespace cpu {

void adam(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
          float beta2, float eps, int64_t step, const int32_t* halt) {
  if (halt && *halt != 0) return;  // a non-finite step was flagged: keep the last finite state
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

void flag_nonfinite(const float* x, int64_t n, int64_t step, int32_t* flag, int32_t* bits) {
  bool bad = false;
#pragma omp parallel for schedule(static) reduction(|| : bad) if (n >= detail::kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    if (bits) bits[i] = static_cast<int32_t>(u);
    bad = bad || (u & 0x7f800000u) == 0x7f800000u;  // exponent all ones: NaN or Inf, whatever the FP flags
  }
  if (bad && *flag == 0) *flag = static_cast<int32_t>(step);
}

}  // namespace cpu
