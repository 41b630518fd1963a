// LayerNorm over the last dimension, forward and backward (statistics in double).
#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "parallel.h"
#include "simd.h"

namespace cpu {

namespace {
// The row sums below run in 8 double lanes (lane j takes elements j, j+8, ...), combined in
// lane order: the baseline ISA's vector adds run them (same bits on every x86-64), where one
// sequential chain was latency-bound (LayerNorm was 2.6% of a GPT-2 small forward).
constexpr int kLanes = 8;

template <typename F>
CLLM4REC_INLINE double lane_sum(int64_t n, F f) {
  double part[kLanes] = {0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
#pragma GCC unroll 8
    for (int j = 0; j < kLanes; ++j) part[j] += f(i + j);
  for (int j = 0; i < n; ++i, ++j) part[j] += f(i);
  double s = 0;
  for (int j = 0; j < kLanes; ++j) s += part[j];
  return s;
}
}  // namespace

void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y,
                       float* mean, float* rstd, int64_t R, int64_t D, float eps) {
#pragma omp parallel for schedule(static) if (R * D >= detail::kParallelGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * D;
    const double mu = lane_sum(D, [&](int64_t i) { return double(xr[i]); }) / D;
    const double ss = lane_sum(D, [&](int64_t i) {
      const double c = xr[i] - mu;
      return c * c;
    });
    const float m = static_cast<float>(mu);
    const float rs = static_cast<float>(1.0 / std::sqrt(ss / D + eps));
    float* yr = y + r * D;
    for (int64_t i = 0; i < D; ++i) yr[i] = (xr[i] - m) * rs * gamma[i] + beta[i];
    mean[r] = m;
    rstd[r] = rs;
  }
}

void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta, int64_t R,
                        int64_t D, bool accumulateDx) {
  const bool big = R * D >= detail::kParallelGrain;
  if (dx) {
#pragma omp parallel for schedule(static) if (big)
    for (int64_t r = 0; r < R; ++r) {
      const float* xr = x + r * D;
      const float* dyr = dy + r * D;
      const float m = mean[r], rs = rstd[r];
      // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma.
      const double sg = lane_sum(D, [&](int64_t i) { return double(dyr[i] * gamma[i]); });
      const double sgx = lane_sum(D, [&](int64_t i) { return double(dyr[i] * gamma[i]) * ((xr[i] - m) * rs); });
      const float mg = static_cast<float>(sg / D), mgx = static_cast<float>(sgx / D);
      float* dxr = dx + r * D;
      for (int64_t i = 0; i < D; ++i) {
        const float xhat = (xr[i] - m) * rs;
        const float v = rs * (dyr[i] * gamma[i] - mg - xhat * mgx);
        dxr[i] = accumulateDx ? dxr[i] + v : v;
      }
    }
  }
  if (dgamma || dbeta) {
    // Column blocks walk every row in order: deterministic parameter gradients.
    constexpr int64_t kBlock = 128;
    const int64_t blocks = (D + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (big)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t c0 = blk * kBlock, c1 = std::min(D, c0 + kBlock);
      double ag[kBlock] = {0}, ab[kBlock] = {0};
      for (int64_t r = 0; r < R; ++r) {
        const float* xr = x + r * D;
        const float* dyr = dy + r * D;
        const float m = mean[r], rs = rstd[r];
        for (int64_t c = c0; c < c1; ++c) {
          ag[c - c0] += double(dyr[c]) * ((xr[c] - m) * rs);
          ab[c - c0] += dyr[c];
        }
      }
      for (int64_t c = c0; c < c1; ++c) {
        if (dgamma) dgamma[c] += static_cast<float>(ag[c - c0]);
        if (dbeta) dbeta[c] += static_cast<float>(ab[c - c0]);
      }
    }
  }
}

}  // namespace cpu
