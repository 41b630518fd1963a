// Adam (no weight decay), one in-place step with bias correction, and the step's non-finite
// guard whose flag makes every later update a no-op (both read and written on the device).
#include <cstring>

#include "common.cuh"

namespace cuda {
namespace {

__global__ void adam_kernel(float* p, const float* g, float* m, float* v, int64_t n, float lr,
                            float beta1, float beta2, float eps, float c1, float c2,
                            const int32_t* halt) {
  if (halt && *halt != 0) return;  // a non-finite step was flagged: keep the last finite state
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

__device__ __forceinline__ uint32_t bits_of(float x) {
#ifdef CLLM4REC_CUDASIM
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
#else
  return __float_as_uint(x);
#endif
}

__global__ void flag_nonfinite_kernel(const float* x, int64_t n, unsigned step, int32_t* flag,
                                      int32_t* bits) {
  bool bad = false;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t u = bits_of(x[i]);
    if (bits) bits[i] = static_cast<int32_t>(u);
    bad = bad || (u & 0x7f800000u) == 0x7f800000u;  // exponent all ones: NaN or Inf
  }
  // stream order makes an earlier launch's step stick; within a launch every writer has the same
  if (bad) atomicCAS(reinterpret_cast<unsigned*>(flag), 0u, step);
}

}  // namespace

void flag_nonfinite(const float* x, int64_t n, int64_t step, int32_t* flag, int32_t* bits) {
  if (n <= 0) return;
  flag_nonfinite_kernel<<<detail::grid_for(n), detail::kThreads, 0, detail::stream()>>>(
      x, n, static_cast<unsigned>(step), flag, bits);
  check_last("flag_nonfinite");
}

void adam(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
          float beta2, float eps, int64_t step, const int32_t* halt) {
  if (n <= 0) return;
  // Bias corrections in double on the host, as the CPU twin does.
  const float c1 = static_cast<float>(1.0 - std::pow(double(beta1), double(step)));
  const float c2 = static_cast<float>(1.0 - std::pow(double(beta2), double(step)));
  adam_kernel<<<detail::grid_for(n), detail::kThreads, 0, detail::stream()>>>(
      p, g, m, v, n, lr, beta1, beta2, eps, c1, c2, halt);
  check_last("adam");
}

}  // namespace cuda
