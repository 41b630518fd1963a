// Elementwise and reduction kernels: add, fill, sum, sum_rows, copy_strided.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "parallel.h"

namespace cpu {

using detail::kParallelGrain;

void add(const float* a, float alpha, const float* b, float beta, float* out, int64_t n,
         bool accumulate) {
  // Each element is read before it is written, so out may alias a or b.
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    float v = a[i] * alpha;
    if (b) v += b[i] * beta;
    out[i] = accumulate ? out[i] + v : v;
  }
}

void fill(float* out, float value, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = value;
}

void sum(const float* x, int64_t n, float* out) {
  out[0] = static_cast<float>(detail::deterministic_sum(n, [x](int64_t i) { return double(x[i]); }));
}

void sum_rows(const float* X, int64_t rows, int64_t cols, float* out, bool accumulate) {
  // Parallel over column blocks, rows walked in order: deterministic, double sums.
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelGrain)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock, c1 = std::min(cols, c0 + kBlock);
    double acc[kBlock] = {0};
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = X + r * cols;
      for (int64_t c = c0; c < c1; ++c) acc[c - c0] += row[c];
    }
    for (int64_t c = c0; c < c1; ++c) {
      const float v = static_cast<float>(acc[c - c0]);
      out[c] = accumulate ? out[c] + v : v;
    }
  }
}

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
