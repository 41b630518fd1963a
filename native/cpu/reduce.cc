// Reduce family: sum of all elements, col_sum (over rows: the bias gradient) and
// row_sum (over columns) with its broadcast backward. Sums run in double, in a fixed
// order, so results do not depend on the thread count.
#include <algorithm>

#include "kernels.h"
#include "parallel.h"

namespace cpu {

using detail::kParallelGrain;

void sum(const float* x, int64_t n, float* out) {
  out[0] = static_cast<float>(detail::deterministic_sum(n, [x](int64_t i) { return double(x[i]); }));
}

void col_sum(const float* X, int64_t rows, int64_t cols, float* out, bool accumulate) {
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

void row_sum_forward(const float* X, int64_t R, int64_t C, float* out, bool accumulate) {
#pragma omp parallel for schedule(static) if (R * C >= kParallelGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float* row = X + r * C;
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += row[c];
    const float v = static_cast<float>(s);
    out[r] = accumulate ? out[r] + v : v;
  }
}

void row_sum_backward(const float* dout, int64_t R, int64_t C, float* dX, bool accumulate) {
#pragma omp parallel for schedule(static) if (R * C >= kParallelGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float g = dout[r];
    float* row = dX + r * C;
    if (accumulate) {
      for (int64_t c = 0; c < C; ++c) row[c] += g;
    } else {
      for (int64_t c = 0; c < C; ++c) row[c] = g;
    }
  }
}

}  // namespace cpu
