// Copy family: the batched strided 2-D block copy, twin of native/cpu/copy.cc.
#include "common.cuh"

namespace cuda {
namespace {

using detail::grid_for;
using detail::kThreads;

__global__ void copy_strided_kernel(float* dst, int64_t dstBatchStride, int64_t dstRowStride,
                                    const float* src, int64_t srcBatchStride,
                                    int64_t srcRowStride, int64_t rows, int64_t cols,
                                    int64_t total, bool accumulate) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = e % cols, line = e / cols;
    const int64_t r = line % rows, b = line / rows;
    float* d = dst + b * dstBatchStride + r * dstRowStride + c;
    const float s = src[b * srcBatchStride + r * srcRowStride + c];
    *d = accumulate ? *d + s : s;
  }
}

}  // namespace

void copy_strided(float* dst, int64_t dstBatchStride, int64_t dstRowStride, const float* src,
                  int64_t srcBatchStride, int64_t srcRowStride, int64_t batch, int64_t rows,
                  int64_t cols, bool accumulate) {
  const int64_t total = batch * rows * cols;
  if (total <= 0) return;
  copy_strided_kernel<<<grid_for(total), kThreads, 0, detail::stream()>>>(
      dst, dstBatchStride, dstRowStride, src, srcBatchStride, srcRowStride, rows, cols, total,
      accumulate);
  check_last("copy_strided");
}

}  // namespace cuda
