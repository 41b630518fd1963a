// Copy family: the batched strided 2-D block copy behind concat and slices.
#include <cstring>

#include "kernels.h"
#include "parallel.h"

namespace cpu {

using detail::kParallelGrain;

void copy_strided(float* dst, int64_t dstBatchStride, int64_t dstRowStride, const float* src,
                  int64_t srcBatchStride, int64_t srcRowStride, int64_t batch, int64_t rows,
                  int64_t cols, bool accumulate) {
  const int64_t lines = batch * rows;
#pragma omp parallel for schedule(static) if (lines * cols >= kParallelGrain)
  for (int64_t l = 0; l < lines; ++l) {
    const int64_t b = l / rows, r = l % rows;
    float* d = dst + b * dstBatchStride + r * dstRowStride;
    const float* s = src + b * srcBatchStride + r * srcRowStride;
    if (accumulate) {
      for (int64_t c = 0; c < cols; ++c) d[c] += s[c];
    } else {
      std::memmove(d, s, sizeof(float) * cols);
    }
  }
}

}  // namespace cpu
