// LayerNorm over the last dimension, forward and backward. Row statistics in double
// (one warp per row); dgamma/dbeta by a deterministic two-pass column reduction.
#include "common.cuh"

namespace cuda {
namespace {

constexpr int kRowsPerBlock = 8;   // one warp per row
constexpr int kChunkRows = 256;    // rows folded into one partial by the dgamma/dbeta pass 1

__global__ void layernorm_forward_kernel(const float* x, const float* gamma, const float* beta,
                                         float* y, float* mean, float* rstd, int64_t R,
                                         int64_t D, float eps) {
  const int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= R) return;
  const float* xr = x + r * D;
  double s = 0;
  for (int64_t i = lane; i < D; i += 32) s += xr[i];
  const double mu = detail::warp_sum(s) / D;
  double ss = 0;
  for (int64_t i = lane; i < D; i += 32) {
    const double c = xr[i] - mu;
    ss += c * c;
  }
  ss = detail::warp_sum(ss);
  const float m = static_cast<float>(mu);
  const float rs = static_cast<float>(1.0 / sqrt(ss / D + eps));
  float* yr = y + r * D;
  for (int64_t i = lane; i < D; i += 32) yr[i] = (xr[i] - m) * rs * gamma[i] + beta[i];
  if (lane == 0) {
    mean[r] = m;
    rstd[r] = rs;
  }
}

__global__ void layernorm_backward_dx_kernel(const float* dy, const float* x, const float* gamma,
                                             const float* mean, const float* rstd, float* dx,
                                             int64_t R, int64_t D, bool accumulateDx) {
  const int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= R) return;
  const float* xr = x + r * D;
  const float* dyr = dy + r * D;
  const float m = mean[r], rs = rstd[r];
  // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma.
  double sg = 0, sgx = 0;
  for (int64_t i = lane; i < D; i += 32) {
    const float g = dyr[i] * gamma[i];
    sg += g;
    sgx += double(g) * ((xr[i] - m) * rs);
  }
  sg = detail::warp_sum(sg);
  sgx = detail::warp_sum(sgx);
  const float mg = static_cast<float>(sg / D), mgx = static_cast<float>(sgx / D);
  float* dxr = dx + r * D;
  for (int64_t i = lane; i < D; i += 32) {
    const float xhat = (xr[i] - m) * rs;
    const float v = rs * (dyr[i] * gamma[i] - mg - xhat * mgx);
    dxr[i] = accumulateDx ? dxr[i] + v : v;
  }
}

// Pass 1: block (32 columns x 8 row lanes) folds one chunk of rows into double partials.
__global__ void layernorm_param_partials_kernel(const float* dy, const float* x,
                                                const float* mean, const float* rstd,
                                                int64_t R, int64_t D, double* pg, double* pb) {
  __shared__ double sg[8][33], sb[8][33];
  const int64_t c = blockIdx.x * 32 + threadIdx.x;
  const int64_t chunk = blockIdx.y;
  const int64_t r0 = chunk * kChunkRows, r1 = min(R, r0 + kChunkRows);
  double ag = 0, ab = 0;
  if (c < D)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      const float g = dy[r * D + c];
      ag += double(g) * ((x[r * D + c] - mean[r]) * rstd[r]);
      ab += g;
    }
  sg[threadIdx.y][threadIdx.x] = ag;
  sb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && c < D) {
    double tg = 0, tb = 0;
    for (int k = 0; k < 8; ++k) {
      tg += sg[k][threadIdx.x];
      tb += sb[k][threadIdx.x];
    }
    pg[chunk * D + c] = tg;
    pb[chunk * D + c] = tb;
  }
}

// Pass 2: one thread per column folds the chunk partials in order and accumulates.
__global__ void layernorm_param_final_kernel(const double* pg, const double* pb, int64_t chunks,
                                             int64_t D, float* dgamma, float* dbeta) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= D) return;
  double tg = 0, tb = 0;
  for (int64_t k = 0; k < chunks; ++k) {
    tg += pg[k * D + c];
    tb += pb[k * D + c];
  }
  if (dgamma) dgamma[c] += static_cast<float>(tg);
  if (dbeta) dbeta[c] += static_cast<float>(tb);
}

}  // namespace

void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y,
                       float* mean, float* rstd, int64_t R, int64_t D, float eps) {
  if (R <= 0) return;
  const unsigned blocks = static_cast<unsigned>((R + kRowsPerBlock - 1) / kRowsPerBlock);
  layernorm_forward_kernel<<<blocks, 32 * kRowsPerBlock, 0, detail::stream()>>>(
      x, gamma, beta, y, mean, rstd, R, D, eps);
  check_last("layernorm_forward");
}

void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta, int64_t R,
                        int64_t D, bool accumulateDx) {
  if (R <= 0 || D <= 0) return;
  if (dx) {
    const unsigned blocks = static_cast<unsigned>((R + kRowsPerBlock - 1) / kRowsPerBlock);
    layernorm_backward_dx_kernel<<<blocks, 32 * kRowsPerBlock, 0, detail::stream()>>>(
        dy, x, gamma, mean, rstd, dx, R, D, accumulateDx);
    check_last("layernorm_backward");
  }
  if (dgamma || dbeta) {
    const int64_t chunks = (R + kChunkRows - 1) / kChunkRows;
    if (chunks > 65535)
      throw std::runtime_error("cuda::layernorm_backward: R=" + std::to_string(R) +
                               " rows exceed the " + std::to_string(65535 * kChunkRows) +
                               " supported by the dgamma/dbeta reduction");
    detail::Scratch partials(sizeof(double) * 2 * chunks * D);
    double* pg = partials.as<double>();
    double* pb = pg + chunks * D;
    const dim3 grid(static_cast<unsigned>((D + 31) / 32), static_cast<unsigned>(chunks));
    layernorm_param_partials_kernel<<<grid, dim3(32, 8), 0, detail::stream()>>>(
        dy, x, mean, rstd, R, D, pg, pb);
    check_last("layernorm_backward");
    layernorm_param_final_kernel<<<static_cast<unsigned>((D + 255) / 256), 256, 0,
                                   detail::stream()>>>(pg, pb, chunks, D, dgamma, dbeta);
    check_last("layernorm_backward");
  }
}

}  // namespace cuda
