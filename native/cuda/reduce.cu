// Reduce family: sum, col_sum and row_sum, twins of native/cpu/reduce.cc.
// Deterministic: fixed grids and fixed-order tree sums in double, no float atomics.
#include "common.cuh"

namespace cuda {
namespace {

using detail::grid_for;
using detail::kThreads;

#define CLLM4REC_GRID_STRIDE(i, n)                                                   \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n);         \
       i += int64_t(gridDim.x) * blockDim.x)

// Pass 1 of sum: one double partial per block over a grid-stride slice.
__global__ void sum_partials_kernel(const float* x, int64_t n, double* partials) {
  __shared__ double shared[32];
  double acc = 0.0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    acc += double(x[i]);
  acc = detail::block_sum(acc, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// Pass 2: one block folds the partials in a fixed order.
__global__ void sum_final_kernel(const double* partials, int nparts, float* out) {
  __shared__ double shared[32];
  double acc = 0.0;
  for (int i = threadIdx.x; i < nparts; i += blockDim.x) acc += partials[i];
  acc = detail::block_sum(acc, shared);
  if (threadIdx.x == 0) out[0] = static_cast<float>(acc);
}

// Column sums: a block owns 32 columns; its 32x32 threads walk row slices, then the
// 32 row-slice partials of each column are folded in a fixed order.
__global__ void col_sum_kernel(const float* X, int64_t rows, int64_t cols, float* out,
                                bool accumulate) {
  __shared__ double part[32][33];
  const int64_t c = blockIdx.x * 32 + threadIdx.x;
  double acc = 0.0;
  if (c < cols)
    for (int64_t r = threadIdx.y; r < rows; r += 32) acc += X[r * cols + c];
  part[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    double s = 0.0;
    for (int k = 0; k < 32; ++k) s += part[k][threadIdx.x];
    const float v = static_cast<float>(s);
    out[c] = accumulate ? out[c] + v : v;
  }
}

// One block per row (grid-stride over rows): double partials, fixed-order block sum.
__global__ void row_sum_forward_kernel(const float* X, int64_t R, int64_t C, float* out,
                                       bool accumulate) {
  __shared__ double shared[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* row = X + r * C;
    double acc = 0.0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) acc += row[c];
    acc = detail::block_sum(acc, shared);
    if (threadIdx.x == 0) {
      const float v = static_cast<float>(acc);
      out[r] = accumulate ? out[r] + v : v;
    }
  }
}

__global__ void row_sum_backward_kernel(const float* dout, int64_t C, float* dX, int64_t total,
                                        bool accumulate) {
  CLLM4REC_GRID_STRIDE(e, total) {
    const float g = dout[e / C];
    dX[e] = accumulate ? dX[e] + g : g;
  }
}

#undef CLLM4REC_GRID_STRIDE

}  // namespace

void sum(const float* x, int64_t n, float* out) {
  // The block count depends only on n, so the summation order is fixed for a given n.
  const int nparts = static_cast<int>(n <= 0 ? 1 : std::min<int64_t>(1024, (n + 4095) / 4096));
  detail::Scratch partials(sizeof(double) * nparts);
  sum_partials_kernel<<<nparts, kThreads, 0, detail::stream()>>>(x, n, partials.as<double>());
  check_last("sum");
  sum_final_kernel<<<1, 1024, 0, detail::stream()>>>(partials.as<double>(), nparts, out);
  check_last("sum");
}

void col_sum(const float* X, int64_t rows, int64_t cols, float* out, bool accumulate) {
  if (cols <= 0) return;
  const dim3 block(32, 32);
  col_sum_kernel<<<static_cast<unsigned>((cols + 31) / 32), block, 0, detail::stream()>>>(
      X, rows, cols, out, accumulate);
  check_last("col_sum");
}

void row_sum_forward(const float* X, int64_t R, int64_t C, float* out, bool accumulate) {
  if (R <= 0) return;
  const unsigned blocks = static_cast<unsigned>(R < (1 << 20) ? R : (1 << 20));
  row_sum_forward_kernel<<<blocks, kThreads, 0, detail::stream()>>>(X, R, C, out, accumulate);
  check_last("row_sum_forward");
}

void row_sum_backward(const float* dout, int64_t R, int64_t C, float* dX, bool accumulate) {
  const int64_t total = R * C;
  if (total <= 0) return;
  row_sum_backward_kernel<<<grid_for(total), kThreads, 0, detail::stream()>>>(dout, C, dX,
                                                                              total, accumulate);
  check_last("row_sum_backward");
}

}  // namespace cuda
