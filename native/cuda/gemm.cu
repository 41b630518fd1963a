// GEMM: C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] (+ bias), row-major fp32.
// Shared-memory tiled: a 64x64 tile of C per 256-thread block, 4x4 outputs per thread,
// K walked in slices of 16. Transposes are template parameters so every tile load
// reads global memory along its contiguous dimension.
#include "common.cuh"

namespace cuda {
namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16, kGemmThreads = 256;

template <bool TA, bool TB>
__global__ void __launch_bounds__(kGemmThreads)
    gemm_kernel(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t strideA,
                const float* B, int64_t strideB, float beta, float* C, int64_t strideC,
                const float* bias) {
  __shared__ float As[kBK][kBM + 4];  // op(A) slice, k-major
  __shared__ float Bs[kBK][kBN + 4];  // op(B) slice, k-major
  const int64_t b = blockIdx.z;
  A += b * strideA;
  B += b * strideB;
  C += b * strideC;
  const int64_t m0 = int64_t(blockIdx.x) * kBM, n0 = int64_t(blockIdx.y) * kBN;
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  float acc[4][4] = {};

  for (int64_t k0 = 0; k0 < K; k0 += kBK) {
#pragma unroll
    for (int l = 0; l < (kBM * kBK) / kGemmThreads; ++l) {
      const int e = tid + l * kGemmThreads;
      int mm, kk;
      if (TA) {  // A stored [K, M]: consecutive threads take consecutive m
        mm = e % kBM;
        kk = e / kBM;
      } else {  // A stored [M, K]: consecutive threads take consecutive k
        kk = e % kBK;
        mm = e / kBK;
      }
      const int64_t gm = m0 + mm, gk = k0 + kk;
      float v = 0.0f;
      if (gm < M && gk < K) v = TA ? A[gk * M + gm] : A[gm * K + gk];
      As[kk][mm] = v;
    }
#pragma unroll
    for (int l = 0; l < (kBN * kBK) / kGemmThreads; ++l) {
      const int e = tid + l * kGemmThreads;
      int nn, kk;
      if (TB) {  // B stored [N, K]: consecutive threads take consecutive k
        kk = e % kBK;
        nn = e / kBK;
      } else {  // B stored [K, N]: consecutive threads take consecutive n
        nn = e % kBN;
        kk = e / kBN;
      }
      const int64_t gn = n0 + nn, gk = k0 + kk;
      float v = 0.0f;
      if (gn < N && gk < K) v = TB ? B[gn * K + gk] : B[gk * N + gn];
      Bs[kk][nn] = v;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      float a[4], bb[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bb[j] = Bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * bb[j];
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t m = m0 + ty + 16 * i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t n = n0 + tx + 16 * j;
      if (n >= N) continue;
      float* c = C + m * N + n;
      float v = alpha * acc[i][j];
      if (beta != 0.0f) v += beta * *c;  // beta == 0: C is not read (may hold NaN)
      if (bias) v += bias[n];
      *c = v;
    }
  }
}

}  // namespace

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t strideA, const float* B, int64_t strideB, float beta, float* C,
          int64_t strideC, int64_t batch, const float* bias) {
  if (M <= 0 || N <= 0 || batch <= 0) return;
  const int64_t mTiles = (M + kBM - 1) / kBM, nTiles = (N + kBN - 1) / kBN;
  if (mTiles > INT32_MAX || nTiles > 65535)
    throw std::runtime_error("cuda::gemm: M=" + std::to_string(M) + ", N=" +
                             std::to_string(N) + " exceed the launch grid (N <= " +
                             std::to_string(65535 * kBN) + ")");
  // Batches beyond the grid's z limit run as consecutive launches.
  for (int64_t b0 = 0; b0 < batch; b0 += 65535) {
    const unsigned nb = static_cast<unsigned>(std::min<int64_t>(65535, batch - b0));
    const dim3 grid(static_cast<unsigned>(mTiles), static_cast<unsigned>(nTiles), nb);
    const float* Ab = A + b0 * strideA;
    const float* Bb = B + b0 * strideB;
    float* Cb = C + b0 * strideC;
    cudaStream_t s = detail::stream();
    if (!transA && !transB)
      gemm_kernel<false, false><<<grid, kGemmThreads, 0, s>>>(M, N, K, alpha, Ab, strideA, Bb,
                                                              strideB, beta, Cb, strideC, bias);
    else if (!transA && transB)
      gemm_kernel<false, true><<<grid, kGemmThreads, 0, s>>>(M, N, K, alpha, Ab, strideA, Bb,
                                                             strideB, beta, Cb, strideC, bias);
    else if (transA && !transB)
      gemm_kernel<true, false><<<grid, kGemmThreads, 0, s>>>(M, N, K, alpha, Ab, strideA, Bb,
                                                             strideB, beta, Cb, strideC, bias);
    else
      gemm_kernel<true, true><<<grid, kGemmThreads, 0, s>>>(M, N, K, alpha, Ab, strideA, Bb,
                                                            strideB, beta, Cb, strideC, bias);
    check_last("gemm");
  }
}

}  // namespace cuda
