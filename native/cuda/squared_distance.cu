// Squared-distance regulariser sum (a - b)^2, forward and backward.
// The forward sum is a deterministic two-pass reduction in double, like the CPU twin.
#include "common.cuh"

namespace cuda {
namespace {

__global__ void squared_distance_partials_kernel(const float* a, const float* b, int64_t n,
                                        double* partials) {
  __shared__ double shared[32];
  double acc = 0.0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const double d = double(a[i]) - double(b[i]);
    acc += d * d;
  }
  acc = detail::block_sum(acc, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

__global__ void squared_distance_final_kernel(const double* partials, int nparts, float* out) {
  __shared__ double shared[32];
  double acc = 0.0;
  for (int i = threadIdx.x; i < nparts; i += blockDim.x) acc += partials[i];
  acc = detail::block_sum(acc, shared);
  if (threadIdx.x == 0) out[0] = static_cast<float>(acc);
}

__global__ void squared_distance_backward_kernel(const float* a, const float* b, const float* g,
                                        float* da, int64_t n, bool accumulate) {
  const float s = 2.0f * g[0];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = s * (a[i] - b[i]);
    da[i] = accumulate ? da[i] + v : v;
  }
}

}  // namespace

void squared_distance_forward(const float* a, const float* b, int64_t n, float* out) {
  const int nparts = static_cast<int>(n <= 0 ? 1 : std::min<int64_t>(1024, (n + 4095) / 4096));
  detail::Scratch partials(sizeof(double) * nparts);
  squared_distance_partials_kernel<<<nparts, detail::kThreads, 0, detail::stream()>>>(
      a, b, n, partials.as<double>());
  check_last("squared_distance_forward");
  squared_distance_final_kernel<<<1, 1024, 0, detail::stream()>>>(partials.as<double>(), nparts, out);
  check_last("squared_distance_forward");
}

void squared_distance_backward(const float* a, const float* b, const float* g, float* da, int64_t n,
                          bool accumulate) {
  if (n <= 0) return;
  squared_distance_backward_kernel<<<detail::grid_for(n), detail::kThreads, 0, detail::stream()>>>(
      a, b, g, da, n, accumulate);
  check_last("squared_distance_backward");
}

}  // namespace cuda
