// Adam (no weight decay), one in-place step with bias correction.
#include "common.cuh"

namespace cuda {
namespace {

__global__ void adam_kernel(float* p, const float* g, float* m, float* v, int64_t n, float lr,
                            float beta1, float beta2, float eps, float c1, float c2) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr * (mi / c1) / (sqrtf(vi / c2) + eps);
  }
}

}  // namespace

void adam(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
          float beta2, float eps, int64_t step) {
  if (n <= 0) return;
  // Bias corrections in double on the host, as the CPU twin does.
  const float c1 = static_cast<float>(1.0 - std::pow(double(beta1), double(step)));
  const float c2 = static_cast<float>(1.0 - std::pow(double(beta2), double(step)));
  adam_kernel<<<detail::grid_for(n), detail::kThreads, 0, detail::stream()>>>(
      p, g, m, v, n, lr, beta1, beta2, eps, c1, c2);
  check_last("adam");
}

}  // namespace cuda
