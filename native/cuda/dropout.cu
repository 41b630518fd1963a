// Dropout from Philox4x32-10 counters (native/include/philox.h), the twin of
// native/cpu/dropout.cc: the same counters give the same mask bits, and the backward
// regenerates the mask instead of storing it. One thread per Philox block of 4 elements.
#include "common.cuh"
#include "philox.h"

namespace cuda {
namespace {

__global__ void philox_blocks_kernel(int32_t* out, int64_t nBlocks, uint64_t c, uint32_t c2,
                                     uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < nBlocks;
       b += int64_t(gridDim.x) * blockDim.x) {
    const uint64_t cb = c + uint64_t(b);
    const philox::Words w = philox::philox4x32(uint32_t(cb), uint32_t(cb >> 32), c2, c3, k0, k1);
    for (int k = 0; k < 4; ++k) out[4 * b + k] = int32_t(w.w[k]);
  }
}

__global__ void dropout_kernel(const float* in, float* out, int64_t n, philox::Dropout d,
                               bool accumulate) {
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < blocks;
       b += int64_t(gridDim.x) * blockDim.x) {
    const philox::Words w = d.block(uint64_t(b));
    for (int k = 0; k < 4; ++k) {
      const int64_t i = 4 * b + k;
      if (i < n) {
        const float v = in[i] * ((w.w[k] >> 8) >= d.threshold ? d.scale : 0.0f);
        out[i] = accumulate ? out[i] + v : v;
      }
    }
  }
}

}  // namespace

void philox_blocks(int32_t* out, int64_t nBlocks, int64_t c0, int64_t c1, int64_t c2, int64_t c3,
                   int64_t k0, int64_t k1) {
  if (nBlocks <= 0) return;
  const uint64_t c = (uint64_t(uint32_t(c1)) << 32) | uint32_t(c0);
  philox_blocks_kernel<<<detail::grid_for(nBlocks), detail::kThreads, 0, detail::stream()>>>(
      out, nBlocks, c, uint32_t(c2), uint32_t(c3), uint32_t(k0), uint32_t(k1));
  check_last("philox_blocks");
}

void dropout_forward(const float* x, float* y, int64_t n, int64_t seed, int64_t site, int64_t step,
                     int64_t threshold, float scale) {
  if (n <= 0) return;
  dropout_kernel<<<detail::grid_for((n + 3) / 4), detail::kThreads, 0, detail::stream()>>>(
      x, y, n, philox::make_dropout(seed, site, step, threshold, scale), false);
  check_last("dropout_forward");
}

void dropout_backward(const float* dy, float* dx, int64_t n, int64_t seed, int64_t site,
                      int64_t step, int64_t threshold, float scale, bool accumulate) {
  if (n <= 0) return;
  dropout_kernel<<<detail::grid_for((n + 3) / 4), detail::kThreads, 0, detail::stream()>>>(
      dy, dx, n, philox::make_dropout(seed, site, step, threshold, scale), accumulate);
  check_last("dropout_backward");
}

}  // namespace cuda
