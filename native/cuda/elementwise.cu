// Elementwise and reduction kernels: add, fill, sum, sum_rows, copy_strided.
// Reductions are deterministic: fixed grids and fixed-order tree sums, no float atomics.
#include "common.cuh"

namespace cuda {
namespace {

using detail::grid_for;
using detail::kThreads;

__global__ void add_kernel(const float* a, float alpha, const float* b, float beta, float* out,
                           int64_t n, bool accumulate) {
  // Each element is read before it is written, so out may alias a or b.
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float v = a[i] * alpha;
    if (b) v += b[i] * beta;
    out[i] = accumulate ? out[i] + v : v;
  }
}

__global__ void fill_kernel(float* out, float value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = value;
}

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
__global__ void sum_rows_kernel(const float* X, int64_t rows, int64_t cols, float* out,
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

void add(const float* a, float alpha, const float* b, float beta, float* out, int64_t n,
         bool accumulate) {
  if (n <= 0) return;
  add_kernel<<<grid_for(n), kThreads, 0, detail::stream()>>>(a, alpha, b, beta, out, n,
                                                             accumulate);
  check_last("add");
}

void fill(float* out, float value, int64_t n) {
  if (n <= 0) return;
  fill_kernel<<<grid_for(n), kThreads, 0, detail::stream()>>>(out, value, n);
  check_last("fill");
}

void sum(const float* x, int64_t n, float* out) {
  // The block count depends only on n, so the summation order is fixed for a given n.
  const int nparts = static_cast<int>(n <= 0 ? 1 : std::min<int64_t>(1024, (n + 4095) / 4096));
  detail::Scratch partials(sizeof(double) * nparts);
  sum_partials_kernel<<<nparts, kThreads, 0, detail::stream()>>>(x, n, partials.as<double>());
  check_last("sum");
  sum_final_kernel<<<1, 1024, 0, detail::stream()>>>(partials.as<double>(), nparts, out);
  check_last("sum");
}

void sum_rows(const float* X, int64_t rows, int64_t cols, float* out, bool accumulate) {
  if (cols <= 0) return;
  const dim3 block(32, 32);
  sum_rows_kernel<<<static_cast<unsigned>((cols + 31) / 32), block, 0, detail::stream()>>>(
      X, rows, cols, out, accumulate);
  check_last("sum_rows");
}

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
