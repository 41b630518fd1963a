// GELU, tanh approximation (GPT-2's gelu_new), forward and backward.
#include "common.cuh"

namespace cuda {
namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

__global__ void gelu_forward_kernel(const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    y[i] = detail::gelu_tanh(x[i]);
  }
}

__global__ void gelu_backward_kernel(const float* x, const float* dy, float* dx, int64_t n,
                                     bool accumulate) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = x[i];
    const float t = tanhf(kSqrt2OverPi * (v + kCubic * v * v * v));
    const float dinner = kSqrt2OverPi * (1.0f + 3.0f * kCubic * v * v);
    const float g = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * dinner);
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

}  // namespace

void gelu_forward(const float* x, float* y, int64_t n) {
  if (n <= 0) return;
  gelu_forward_kernel<<<detail::grid_for(n), detail::kThreads, 0, detail::stream()>>>(x, y, n);
  check_last("gelu_forward");
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, bool accumulate) {
  if (n <= 0) return;
  gelu_backward_kernel<<<detail::grid_for(n), detail::kThreads, 0, detail::stream()>>>(
      x, dy, dx, n, accumulate);
  check_last("gelu_backward");
}

}  // namespace cuda
