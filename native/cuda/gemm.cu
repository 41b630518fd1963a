// GEMM: C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] (+ bias), row-major fp32.
// Shared-memory tiled: a 64x64 tile of C per 256-thread block, 4x4 outputs per thread,
// K walked in slices of 16. Transposes are template parameters so every tile load
// reads global memory along its contiguous dimension.
// Versions (bench/cuda/gemm/README.md): v1 = this tile kernel alone; v2 = v1, plus
// split-K for skinny shapes (few output tiles, deep K): each split writes its partial
// tile to a workspace and one kernel sums the splits in a fixed order (deterministic);
// v3 = tensor cores (TF32 mma.sync, FP32 accumulate) in 128x64x16 tiles, a 3-stage
// cp.async pipeline, the same split-K and reduction as v2.
// G (null, or gemm_gelu's out): every version's epilogue also writes G = gelu(C) (with
// split-K, the reduction does), so linear -> GELU is one GEMM that keeps C for the backward.
#include <atomic>
#include <cstring>
#include <type_traits>
#include "common.cuh"
#include "mma.cuh"

namespace cuda {
namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16, kGemmThreads = 256;

// SPLIT: blockIdx.z is the split (batch 1), the block covers k in [z*kSplit, (z+1)*kSplit)
// and stores alpha * its partial tile into C = the workspace slice z (no beta, no bias).
template <bool TA, bool TB, bool SPLIT>
__global__ void __launch_bounds__(kGemmThreads)
    gemm_kernel(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t strideA,
                const float* B, int64_t strideB, float beta, float* C, int64_t strideC,
                const float* bias, int64_t kSplit, float* G) {
  __shared__ float As[kBK][kBM + 4];  // op(A) slice, k-major
  __shared__ float Bs[kBK][kBN + 4];  // op(B) slice, k-major
  const int64_t b = blockIdx.z;
  int64_t kBegin = 0, kEnd = K;
  if (SPLIT) {
    kBegin = b * kSplit;
    kEnd = min(K, kBegin + kSplit);
    C += b * M * N;
    beta = 0.0f;
    bias = nullptr;
    G = nullptr;  // the reduction applies it
  } else {
    A += b * strideA;
    B += b * strideB;
    C += b * strideC;
    if (G) G += b * strideC;
  }
  const int64_t m0 = int64_t(blockIdx.x) * kBM, n0 = int64_t(blockIdx.y) * kBN;
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  float acc[4][4] = {};

  for (int64_t k0 = kBegin; k0 < kEnd; k0 += kBK) {
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
      if (gm < M && gk < kEnd) v = TA ? A[gk * M + gm] : A[gm * K + gk];
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
      if (gn < N && gk < kEnd) v = TB ? B[gn * K + gk] : B[gk * N + gn];
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
      if (G) G[m * N + n] = detail::gelu_tanh(v);
    }
  }
}

// ---------------------------------------------------------------- v3: tensor cores (TF32)
// 128x64 tile of C per 128-thread block (2x2 warps, each 64x32 = 4x4 m16n8 fragments),
// K in slices of 16 through a 3-stage cp.async ring. Shared tiles keep the global layout's
// contiguous dimension: a k-contiguous tile ([m][k] or [n][k]) is fed to the mma by
// ldmatrix (one fp32 = two b16, so .x4 of 8x4-float matrices yields the TF32 fragment),
// an m/n-contiguous tile ([k][m] or [k][n]) by scalar loads. Padding makes both
// conflict-free: row pitch 20 floats puts the 8 rows of an ldmatrix matrix on distinct
// 16-byte bank groups; pitch 136 / 72 (= 8 mod 32) puts lane (gid, tig) on bank 8*tig+gid.
constexpr int kTcBM = 128, kTcBN = 64, kTcBK = 16, kTcStages = 3, kTcThreads = 128;
constexpr int kTcPitchK = kTcBK + 4;            // [m][k] / [n][k] tiles
constexpr int kTcPitchAM = kTcBM + 8;           // [k][m] tile
constexpr int kTcPitchBN = kTcBN + 8;           // [k][n] tile
constexpr int kTcASize = kTcBM * kTcPitchK;     // >= kTcBK * kTcPitchAM
constexpr int kTcBSize = kTcBN * kTcPitchK;     // >= kTcBK * kTcPitchBN
static_assert(kTcASize >= kTcBK * kTcPitchAM && kTcBSize >= kTcBK * kTcPitchBN, "tile sizes");

// Raw fp32 bits (an ldmatrix register) -> the TF32 operand, rounded like to_tf32.
__device__ __forceinline__ uint32_t tf32_of_bits(uint32_t bits) {
#ifdef CLLM4REC_CUDASIM
  float f;
  std::memcpy(&f, &bits, 4);
  return mma::to_tf32(f);
#else
  return mma::to_tf32(__uint_as_float(bits));
#endif
}

// 4 consecutive floats of one tile row: global row `src` (null: the row is outside the
// matrix), columns [col, col+4) of which those < limit exist; the rest are zero-filled.
// vec: the row base and pitch are 16-byte aligned, so a whole chunk is one 16-byte copy.
__device__ __forceinline__ void tc_chunk(float* dst, const float* src, int64_t col, int64_t limit,
                                         bool vec) {
  if (src && vec && col + 4 <= limit) {
    mma::cp_async<16>(dst, src + col);
    return;
  }
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    if (src && col + j < limit)
      mma::cp_async<4>(dst + j, src + col + j);
    else
      dst[j] = 0.0f;
  }
}

// One stage: op(A) rows m0.. and op(B) columns n0.., k in [k0, k0+16) clipped to kEnd.
template <bool TA, bool TB>
__device__ __forceinline__ void tc_load_stage(float* As, float* Bs, const float* A, const float* B,
                                              int64_t M, int64_t N, int64_t K, int64_t m0,
                                              int64_t n0, int64_t k0, int64_t kEnd, bool vecA,
                                              bool vecB, int tid) {
  if (!TA) {  // A [M, K]: 128 rows x 4 chunks
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int e = tid + i * kTcThreads, r = e >> 2, c = (e & 3) * 4;
      const int64_t gm = m0 + r;
      tc_chunk(As + r * kTcPitchK + c, gm < M ? A + gm * K + k0 : nullptr, c, kEnd - k0, vecA);
    }
  } else {  // A [K, M]: 16 k-rows x 32 chunks
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int e = tid + i * kTcThreads, r = e >> 5, c = (e & 31) * 4;
      const int64_t gk = k0 + r;
      tc_chunk(As + r * kTcPitchAM + c, gk < kEnd ? A + gk * M + m0 : nullptr, c, M - m0, vecA);
    }
  }
  if (TB) {  // B [N, K]: 64 rows x 4 chunks
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int e = tid + i * kTcThreads, r = e >> 2, c = (e & 3) * 4;
      const int64_t gn = n0 + r;
      tc_chunk(Bs + r * kTcPitchK + c, gn < N ? B + gn * K + k0 : nullptr, c, kEnd - k0, vecB);
    }
  } else {  // B [K, N]: 16 k-rows x 16 chunks
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int e = tid + i * kTcThreads, r = e >> 4, c = (e & 15) * 4;
      const int64_t gk = k0 + r;
      tc_chunk(Bs + r * kTcPitchBN + c, gk < kEnd ? B + gk * N + n0 : nullptr, c, N - n0, vecB);
    }
  }
}

// The epilogue of both tensor-core kernels: a warp's 64x32 tile of m16n8 accumulators (c0,c1
// in row gid, c2,c3 in row gid + 8) to C = alpha acc + beta C (+ bias), and gelu(C) into G.
__device__ __forceinline__ void store_warp_tile(const float (&acc)[4][4][4], int64_t M, int64_t N, int64_t mw,
                                                int64_t nw, int gid, int tig, float alpha, float beta, float* C,
                                                const float* bias, float* G) {
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t m = mw + mi * 16 + gid + h * 8;
      if (m >= M) continue;
#pragma unroll
      for (int ni = 0; ni < 4; ++ni)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int64_t n = nw + ni * 8 + tig * 2 + j;
          if (n >= N) continue;
          float* c = C + m * N + n;
          float v = alpha * acc[mi][ni][h * 2 + j];
          if (beta != 0.0f) v += beta * *c;  // beta == 0: C is not read (may hold NaN)
          if (bias) v += bias[n];
          *c = v;
          if (G) G[m * N + n] = detail::gelu_tanh(v);
        }
    }
}

// Same contract and SPLIT meaning as gemm_kernel; vecA / vecB: 16-byte copies allowed.
template <bool TA, bool TB, bool SPLIT>
__global__ void __launch_bounds__(kTcThreads)
    gemm_kernel_tf32(int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t strideA, const float* B, int64_t strideB, float beta, float* C,
                     int64_t strideC, const float* bias, int64_t kSplit, bool vecA, bool vecB,
                     float* G) {
  __shared__ __align__(16) float As[kTcStages][kTcASize];
  __shared__ __align__(16) float Bs[kTcStages][kTcBSize];
  const int64_t b = blockIdx.z;
  int64_t kBegin = 0, kEnd = K;
  if (SPLIT) {
    kBegin = b * kSplit;
    kEnd = min(K, kBegin + kSplit);
    C += b * M * N;
    beta = 0.0f;
    bias = nullptr;
    G = nullptr;  // the reduction applies it
  } else {
    A += b * strideA;
    B += b * strideB;
    C += b * strideC;
    if (G) G += b * strideC;
  }
  const int64_t m0 = int64_t(blockIdx.x) * kTcBM, n0 = int64_t(blockIdx.y) * kTcBN;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = (warp & 1) * 64, wn = (warp >> 1) * 32;  // this warp's 64x32 sub-tile
  const int gid = lane >> 2, tig = lane & 3;
  float acc[4][4][4] = {};

  const int64_t nk = (kEnd - kBegin + kTcBK - 1) / kTcBK;
#pragma unroll
  for (int s = 0; s < kTcStages - 1; ++s) {
    if (s < nk)
      tc_load_stage<TA, TB>(As[s], Bs[s], A, B, M, N, K, m0, n0, kBegin + s * kTcBK, kEnd, vecA,
                            vecB, tid);
    mma::cp_async_commit();
  }
  for (int64_t t = 0; t < nk; ++t) {
    mma::cp_async_wait<kTcStages - 2>();  // slice t has landed (for this thread) ...
    __syncthreads();  // ... for every thread, and slice t-1's stage is free to refill
    const int64_t pre = t + kTcStages - 1;
    if (pre < nk) {
      const int ps = static_cast<int>(pre % kTcStages);
      tc_load_stage<TA, TB>(As[ps], Bs[ps], A, B, M, N, K, m0, n0, kBegin + pre * kTcBK, kEnd,
                            vecA, vecB, tid);
    }
    mma::cp_async_commit();
    const float* as = As[t % kTcStages];
    const float* bs = Bs[t % kTcStages];
#pragma unroll
    for (int kk = 0; kk < kTcBK; kk += 8) {
      uint32_t af[4][4], bf[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) {
        const int r0 = wm + mi * 16;
        if (!TA) {  // matrices: rows +0/+8 (lane bit 3), k +0/+4 (lane bit 4)
          const int q = lane >> 3;
          mma::ldmatrix<4, false>(af[mi], as + (r0 + (lane & 7) + (q & 1) * 8) * kTcPitchK +
                                              kk + (q >> 1) * 4);
#pragma unroll
          for (int i = 0; i < 4; ++i) af[mi][i] = tf32_of_bits(af[mi][i]);
        } else {
          af[mi][0] = mma::to_tf32(as[(kk + tig) * kTcPitchAM + r0 + gid]);
          af[mi][1] = mma::to_tf32(as[(kk + tig) * kTcPitchAM + r0 + gid + 8]);
          af[mi][2] = mma::to_tf32(as[(kk + tig + 4) * kTcPitchAM + r0 + gid]);
          af[mi][3] = mma::to_tf32(as[(kk + tig + 4) * kTcPitchAM + r0 + gid + 8]);
        }
      }
#pragma unroll
      for (int ni = 0; ni < 4; ni += 2) {
        const int c0 = wn + ni * 8;
        if (TB) {  // matrices: k +0/+4 (lane bit 3), n +0/+8 (lane bit 4)
          const int q = lane >> 3;
          uint32_t r[4];
          mma::ldmatrix<4, false>(r, bs + (c0 + (lane & 7) + (q >> 1) * 8) * kTcPitchK + kk +
                                         (q & 1) * 4);
          bf[ni][0] = tf32_of_bits(r[0]);
          bf[ni][1] = tf32_of_bits(r[1]);
          bf[ni + 1][0] = tf32_of_bits(r[2]);
          bf[ni + 1][1] = tf32_of_bits(r[3]);
        } else {
#pragma unroll
          for (int j = 0; j < 2; ++j) {
            bf[ni + j][0] = mma::to_tf32(bs[(kk + tig) * kTcPitchBN + c0 + j * 8 + gid]);
            bf[ni + j][1] = mma::to_tf32(bs[(kk + tig + 4) * kTcPitchBN + c0 + j * 8 + gid]);
          }
        }
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) mma::mma_m16n8k8_tf32(acc[mi][ni], af[mi], bf[ni], acc[mi][ni]);
    }
  }
  mma::cp_async_wait<0>();  // no copy may outlive the block (the last groups are empty)
  store_warp_tile(acc, M, N, m0 + wm, n0 + wn, gid, tig, alpha, beta, C, bias, G);
}

// ---------------------------------------------------------------- BF16 B (frozen weights)
// gemm_bf16_b: op(B) stored once in BF16 (the frozen GPT-2 weights), A fp32, FP32
// accumulation on mma.sync m16n8k16 BF16. Same 128x64 tile and 2x2 warps of 64x32 as v3,
// K in slices of 32 through a 2-stage cp.async ring (two stages fit 48 KiB static shared
// memory with A kept fp32). A is rounded to BF16 (nearest even) as its fragments are read;
// B fragments come by ldmatrix (.trans for a [k][n] tile). Pitches: A [m][k] 36 floats
// (float2 reads of a half-warp hit 16 distinct bank pairs), A [k][m] 132 (= 4 mod 32: lane
// (gid, tig) on bank 8*tig+gid), B [n][k] 40 and [k][n] 72 bf16 (8 ldmatrix rows on distinct
// 16-byte bank groups).
constexpr int kBfBK = 32, kBfStages = 2;
constexpr int kBfPitchAK = kBfBK + 4, kBfPitchAM = kTcBM + 4;
constexpr int kBfPitchBK = kBfBK + 8, kBfPitchBN = kTcBN + 8;
constexpr int kBfASize = kTcBM * kBfPitchAK, kBfBSize = kTcBN * kBfPitchBK;
static_assert(kBfASize >= kBfBK * kBfPitchAM && kBfBSize >= kBfBK * kBfPitchBN, "tile sizes");

// Two adjacent floats of shared memory (8-byte aligned) as one BF16 pair.
__device__ __forceinline__ uint32_t bf16x2_at(const float* p) {
#ifdef CLLM4REC_CUDASIM
  return mma::bf16x2(p[0], p[1]);
#else
  const float2 v = *reinterpret_cast<const float2*>(p);
  return mma::bf16x2(v.x, v.y);
#endif
}

// 8 consecutive bf16 of one tile row, like tc_chunk (rows, limit, zero-fill, vec).
__device__ __forceinline__ void bf_chunk(uint16_t* dst, const uint16_t* src, int64_t col,
                                         int64_t limit, bool vec) {
  if (src && vec && col + 8 <= limit) {
    mma::cp_async<16>(dst, src + col);
    return;
  }
#pragma unroll
  for (int j = 0; j < 8; ++j) dst[j] = (src && col + j < limit) ? src[col + j] : uint16_t(0);
}

template <bool TA, bool TB>
__device__ __forceinline__ void bf_load_stage(float* As, uint16_t* Bs, const float* A,
                                              const uint16_t* B, int64_t M, int64_t N, int64_t K,
                                              int64_t m0, int64_t n0, int64_t k0, int64_t kEnd,
                                              bool vecA, bool vecB, int tid) {
  if (!TA) {  // A [M, K]: 128 rows x 8 chunks of 4 floats
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int e = tid + i * kTcThreads, r = e >> 3, c = (e & 7) * 4;
      const int64_t gm = m0 + r;
      tc_chunk(As + r * kBfPitchAK + c, gm < M ? A + gm * K + k0 : nullptr, c, kEnd - k0, vecA);
    }
  } else {  // A [K, M]: 32 k-rows x 32 chunks
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int e = tid + i * kTcThreads, r = e >> 5, c = (e & 31) * 4;
      const int64_t gk = k0 + r;
      tc_chunk(As + r * kBfPitchAM + c, gk < kEnd ? A + gk * M + m0 : nullptr, c, M - m0, vecA);
    }
  }
  if (TB) {  // B [N, K]: 64 rows x 4 chunks of 8 bf16
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int e = tid + i * kTcThreads, r = e >> 2, c = (e & 3) * 8;
      const int64_t gn = n0 + r;
      bf_chunk(Bs + r * kBfPitchBK + c, gn < N ? B + gn * K + k0 : nullptr, c, kEnd - k0, vecB);
    }
  } else {  // B [K, N]: 32 k-rows x 8 chunks
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int e = tid + i * kTcThreads, r = e >> 3, c = (e & 7) * 8;
      const int64_t gk = k0 + r;
      bf_chunk(Bs + r * kBfPitchBN + c, gk < kEnd ? B + gk * N + n0 : nullptr, c, N - n0, vecB);
    }
  }
}

// Same contract and SPLIT meaning as gemm_kernel, B in BF16.
template <bool TA, bool TB, bool SPLIT>
__global__ void __launch_bounds__(kTcThreads)
    gemm_kernel_bf16(int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     const uint16_t* B, float beta, float* C, const float* bias, int64_t kSplit,
                     bool vecA, bool vecB, float* G) {
  __shared__ __align__(16) float As[kBfStages][kBfASize];
  __shared__ __align__(16) uint16_t Bs[kBfStages][kBfBSize];
  int64_t kBegin = 0, kEnd = K;
  if (SPLIT) {
    kBegin = int64_t(blockIdx.z) * kSplit;
    kEnd = min(K, kBegin + kSplit);
    C += int64_t(blockIdx.z) * M * N;
    beta = 0.0f;
    bias = nullptr;
    G = nullptr;  // the reduction applies it
  }
  const int64_t m0 = int64_t(blockIdx.x) * kTcBM, n0 = int64_t(blockIdx.y) * kTcBN;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = (warp & 1) * 64, wn = (warp >> 1) * 32;
  const int gid = lane >> 2, tig = lane & 3, q = lane >> 3;
  float acc[4][4][4] = {};

  const int64_t nk = (kEnd - kBegin + kBfBK - 1) / kBfBK;
#pragma unroll
  for (int s = 0; s < kBfStages - 1; ++s) {
    if (s < nk)
      bf_load_stage<TA, TB>(As[s], Bs[s], A, B, M, N, K, m0, n0, kBegin + s * kBfBK, kEnd, vecA,
                            vecB, tid);
    mma::cp_async_commit();
  }
  for (int64_t t = 0; t < nk; ++t) {
    mma::cp_async_wait<kBfStages - 2>();  // slice t has landed (for this thread) ...
    __syncthreads();  // ... for every thread, and slice t-1's stage is free to refill
    const int64_t pre = t + kBfStages - 1;
    if (pre < nk) {
      const int ps = static_cast<int>(pre % kBfStages);
      bf_load_stage<TA, TB>(As[ps], Bs[ps], A, B, M, N, K, m0, n0, kBegin + pre * kBfBK, kEnd,
                            vecA, vecB, tid);
    }
    mma::cp_async_commit();
    const float* as = As[t % kBfStages];
    const uint16_t* bs = Bs[t % kBfStages];
#pragma unroll
    for (int kk = 0; kk < kBfBK; kk += 16) {
      uint32_t af[4][4], bf[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) {
        const int r = wm + mi * 16 + gid;
#pragma unroll
        for (int i = 0; i < 4; ++i) {  // register i: row +8 when i is odd, k +8 when i >= 2
          const int rr = r + (i & 1) * 8, k = kk + tig * 2 + (i >> 1) * 8;
          af[mi][i] = TA ? mma::bf16x2(as[k * kBfPitchAM + rr], as[(k + 1) * kBfPitchAM + rr])
                         : bf16x2_at(as + rr * kBfPitchAK + k);
        }
      }
#pragma unroll
      for (int ni = 0; ni < 4; ni += 2) {  // matrices: k +0/+8 (lane bit 3), n +0/+8 (bit 4)
        const int c0 = wn + ni * 8;
        uint32_t r[4];
        if (TB)
          mma::ldmatrix<4, false>(r, bs + (c0 + (lane & 7) + (q >> 1) * 8) * kBfPitchBK + kk +
                                         (q & 1) * 8);
        else
          mma::ldmatrix<4, true>(r, bs + (kk + (lane & 7) + (q & 1) * 8) * kBfPitchBN + c0 +
                                        (q >> 1) * 8);
        bf[ni][0] = r[0];
        bf[ni][1] = r[1];
        bf[ni + 1][0] = r[2];
        bf[ni + 1][1] = r[3];
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) mma::mma_m16n8k16_bf16(acc[mi][ni], af[mi], bf[ni], acc[mi][ni]);
    }
  }
  mma::cp_async_wait<0>();  // no copy may outlive the block (the last groups are empty)
  store_warp_tile(acc, M, N, m0 + wm, n0 + wn, gid, tig, alpha, beta, C, bias, G);
}

// dst word i/2, half i%2 = x[i] in BF16 (nearest even); an odd n leaves the last high half 0.
__global__ void f32_to_bf16_kernel(const float* x, int64_t n, uint32_t* dst) {
  const int64_t w = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (2 * w >= n) return;
  dst[w] = mma::bf16x2(x[2 * w], 2 * w + 1 < n ? x[2 * w + 1] : 0.0f);  // bf16(0) = 0
}

// C[m, n] = sum over splits s = 0..S-1 of W[s, m, n], in that order (+ beta*C, + bias);
// G (may be null) = gelu(C).
__global__ void gemm_splitk_reduce(int64_t MN, int64_t N, int S, const float* W, float beta,
                                   float* C, const float* bias, float* G) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= MN) return;
  float v = 0.0f;
  for (int s = 0; s < S; ++s) v += W[int64_t(s) * MN + i];
  if (beta != 0.0f) v += beta * C[i];  // beta == 0: C is not read (may hold NaN)
  if (bias) v += bias[i % N];
  C[i] = v;
  if (G) G[i] = detail::gelu_tanh(v);
}

template <bool SPLIT>
void launch_tiles(bool transA, bool transB, dim3 grid, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t strideA, const float* B, int64_t strideB,
                  float beta, float* C, int64_t strideC, const float* bias, int64_t kSplit,
                  float* G) {
  cudaStream_t s = detail::stream();
  if (!transA && !transB)
    gemm_kernel<false, false, SPLIT><<<grid, kGemmThreads, 0, s>>>(
        M, N, K, alpha, A, strideA, B, strideB, beta, C, strideC, bias, kSplit, G);
  else if (!transA && transB)
    gemm_kernel<false, true, SPLIT><<<grid, kGemmThreads, 0, s>>>(
        M, N, K, alpha, A, strideA, B, strideB, beta, C, strideC, bias, kSplit, G);
  else if (transA && !transB)
    gemm_kernel<true, false, SPLIT><<<grid, kGemmThreads, 0, s>>>(
        M, N, K, alpha, A, strideA, B, strideB, beta, C, strideC, bias, kSplit, G);
  else
    gemm_kernel<true, true, SPLIT><<<grid, kGemmThreads, 0, s>>>(
        M, N, K, alpha, A, strideA, B, strideB, beta, C, strideC, bias, kSplit, G);
  check_last(SPLIT ? "gemm (split-K)" : "gemm");
}

// v3 TF32 tiles, every transpose; vecA/vecB say whether 16-byte cp.async is allowed.
template <bool SPLIT>
void launch_tc_tiles(bool transA, bool transB, dim3 grid, int64_t M, int64_t N, int64_t K,
                     float alpha, const float* A, int64_t strideA, const float* B,
                     int64_t strideB, float beta, float* C, int64_t strideC, const float* bias,
                     int64_t kSplit, bool vecA, bool vecB, float* G) {
  cudaStream_t s = detail::stream();
  if (!transA && !transB)
    gemm_kernel_tf32<false, false, SPLIT><<<grid, kTcThreads, 0, s>>>(
        M, N, K, alpha, A, strideA, B, strideB, beta, C, strideC, bias, kSplit, vecA, vecB, G);
  else if (!transA && transB)
    gemm_kernel_tf32<false, true, SPLIT><<<grid, kTcThreads, 0, s>>>(
        M, N, K, alpha, A, strideA, B, strideB, beta, C, strideC, bias, kSplit, vecA, vecB, G);
  else if (transA && !transB)
    gemm_kernel_tf32<true, false, SPLIT><<<grid, kTcThreads, 0, s>>>(
        M, N, K, alpha, A, strideA, B, strideB, beta, C, strideC, bias, kSplit, vecA, vecB, G);
  else
    gemm_kernel_tf32<true, true, SPLIT><<<grid, kTcThreads, 0, s>>>(
        M, N, K, alpha, A, strideA, B, strideB, beta, C, strideC, bias, kSplit, vecA, vecB, G);
  check_last(SPLIT ? "gemm v3 (split-K)" : "gemm v3");
}

// 16-byte copies need every row start aligned: the base, the pitch, the batch stride.
bool rows_aligned16(const float* p, int64_t pitch, int64_t stride, int64_t batch) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0 && pitch % 4 == 0 &&
         (batch == 1 || stride % 4 == 0);
}

// The graduated version for FP32 GEMMs: v2, not v3, because TF32 rounds every operand to
// 10 mantissa bits (~1e-3 relative per product), which an FP32 caller did not ask for.
std::atomic<int> g_version{2};
std::atomic<int> g_plan_sms{0};  // SMs split-K plans for; 0 = the device's

int sm_count() {
  if (g_plan_sms > 0) return g_plan_sms;
  static const int n = [] {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return 1;
    return prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1;
  }();
  return n;
}

}  // namespace

int gemm_splits(int64_t M, int64_t N, int64_t K, int64_t batch) {
  const int64_t bm = g_version >= 3 ? kTcBM : kBM, bn = g_version >= 3 ? kTcBN : kBN;
  const int64_t tiles = ((M + bm - 1) / bm) * ((N + bn - 1) / bn);
  const int64_t sms = sm_count();
  // Split only single GEMMs that leave most SMs idle and have depth to share (>= 8 slices
  // of kBK per split; v3's kTcBK is the same 16); aim at about two blocks per SM, at most 64 splits.
  if (batch != 1 || tiles >= sms) return 1;
  const int64_t byDepth = K / (8 * kBK);
  const int64_t want = (2 * sms + tiles - 1) / tiles;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(std::min(byDepth, want), 64)));
}

void set_gemm_version(int v, int planSms) {
  if (v < 1 || v > 3)
    throw std::runtime_error("cuda::set_gemm_version: version " + std::to_string(v) +
                             " does not exist (1 = SIMT tiles, 2 = + split-K, 3 = TF32 tensor "
                             "cores + split-K)");
  if (planSms < 0) throw std::runtime_error("cuda::set_gemm_version: planSms must be >= 0");
  g_version = v;
  g_plan_sms = planSms;
}

int gemm_version() { return g_version; }

namespace {
void gemm_impl(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t strideA, const float* B, int64_t strideB, float beta,
               float* C, int64_t strideC, int64_t batch, const float* bias, float* G) {
  if (M <= 0 || N <= 0 || batch <= 0) return;
  const bool tc = g_version >= 3;
  const int64_t bm = tc ? kTcBM : kBM, bn = tc ? kTcBN : kBN, bk = tc ? kTcBK : kBK;
  const int64_t mTiles = (M + bm - 1) / bm, nTiles = (N + bn - 1) / bn;
  if (mTiles > INT32_MAX || nTiles > 65535)
    throw std::runtime_error("cuda::gemm: M=" + std::to_string(M) + ", N=" +
                             std::to_string(N) + " exceed the launch grid (N <= " +
                             std::to_string(65535 * bn) + ")");
  // The contiguous dimension of A is K ([M,K]) or M ([K,M]); of B, N ([K,N]) or K ([N,K]).
  const bool vecA = tc && rows_aligned16(A, transA ? M : K, strideA, batch);
  const bool vecB = tc && rows_aligned16(B, transB ? K : N, strideB, batch);
  const int S = g_version >= 2 ? gemm_splits(M, N, K, batch) : 1;
  if (S > 1) {
    const int64_t kSplit = ((K + S - 1) / S + bk - 1) / bk * bk;  // whole slices per split
    const int splits = static_cast<int>((K + kSplit - 1) / kSplit);
    const int64_t MN = M * N;
    detail::Scratch work(size_t(splits) * size_t(MN) * sizeof(float));  // W: [splits, M, N]
    float* W = work.as<float>();
    const dim3 grid(static_cast<unsigned>(mTiles), static_cast<unsigned>(nTiles),
                    static_cast<unsigned>(splits));
    if (tc)
      launch_tc_tiles<true>(transA, transB, grid, M, N, K, alpha, A, 0, B, 0, 0.0f, W, 0,
                            nullptr, kSplit, vecA, vecB, nullptr);
    else
      launch_tiles<true>(transA, transB, grid, M, N, K, alpha, A, 0, B, 0, 0.0f, W, 0, nullptr,
                         kSplit, nullptr);
    const int threads = 256;
    gemm_splitk_reduce<<<static_cast<unsigned>((MN + threads - 1) / threads), threads, 0,
                         detail::stream()>>>(MN, N, splits, W, beta, C, bias, G);
    check_last("gemm (split-K reduce)");
    return;
  }
  // Batches beyond the grid's z limit run as consecutive launches.
  for (int64_t b0 = 0; b0 < batch; b0 += 65535) {
    const unsigned nb = static_cast<unsigned>(std::min<int64_t>(65535, batch - b0));
    const dim3 grid(static_cast<unsigned>(mTiles), static_cast<unsigned>(nTiles), nb);
    if (tc)
      launch_tc_tiles<false>(transA, transB, grid, M, N, K, alpha, A + b0 * strideA, strideA,
                             B + b0 * strideB, strideB, beta, C + b0 * strideC, strideC, bias, 0,
                             vecA, vecB, G ? G + b0 * strideC : nullptr);
    else
      launch_tiles<false>(transA, transB, grid, M, N, K, alpha, A + b0 * strideA, strideA,
                          B + b0 * strideB, strideB, beta, C + b0 * strideC, strideC, bias, 0,
                          G ? G + b0 * strideC : nullptr);
  }
}
}  // namespace

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t strideA, const float* B, int64_t strideB, float beta, float* C,
          int64_t strideC, int64_t batch, const float* bias) {
  gemm_impl(transA, transB, M, N, K, alpha, A, strideA, B, strideB, beta, C, strideC, batch, bias,
            nullptr);
}

void gemm_gelu(int64_t M, int64_t N, int64_t K, const float* A, const float* B, const float* bias,
               float* pre, float* out) {
  gemm_impl(false, false, M, N, K, 1.0f, A, 0, B, 0, 0.0f, pre, 0, 1, bias, out);
}

void f32_to_bf16(const float* x, int64_t n, uint32_t* dst) {
  const int64_t words = (n + 1) / 2;
  if (words == 0) return;
  f32_to_bf16_kernel<<<static_cast<unsigned>((words + 255) / 256), 256, 0, detail::stream()>>>(x, n, dst);
  check_last("f32_to_bf16");
}

namespace {
void gemm_bf16_b_impl(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                      const float* A, const uint32_t* Bh, float beta, float* C, const float* bias,
                      float* G) {
  if (M <= 0 || N <= 0) return;
  const auto* B = reinterpret_cast<const uint16_t*>(Bh);
  const int64_t mTiles = (M + kTcBM - 1) / kTcBM, nTiles = (N + kTcBN - 1) / kTcBN;
  if (mTiles > INT32_MAX || nTiles > 65535)
    throw std::runtime_error("cuda::gemm_bf16_b: M=" + std::to_string(M) + ", N=" +
                             std::to_string(N) + " exceed the launch grid (N <= " +
                             std::to_string(65535 * kTcBN) + ")");
  const bool vecA = rows_aligned16(A, transA ? M : K, 0, 1);
  const int64_t pitchB = transB ? K : N;  // bf16 rows: 16 bytes = 8 elements
  const bool vecB = reinterpret_cast<uintptr_t>(B) % 16 == 0 && pitchB % 8 == 0;
  // split-K as v2/v3 plan it for this tile (the planner's depth unit, 16, divides kBfBK)
  const int64_t tiles = mTiles * nTiles, sms = sm_count();
  int S = 1;
  if (tiles < sms)
    S = static_cast<int>(std::max<int64_t>(
        1, std::min<int64_t>(std::min(K / (8 * kBfBK), (2 * sms + tiles - 1) / tiles), 64)));
  cudaStream_t s = detail::stream();
  auto launch = [&](auto split, dim3 grid, float* out, float b, const float* bi, int64_t kSplit, float* g) {
    constexpr bool SP = decltype(split)::value;
    if (!transA && !transB)
      gemm_kernel_bf16<false, false, SP><<<grid, kTcThreads, 0, s>>>(M, N, K, alpha, A, B, b, out, bi, kSplit, vecA, vecB, g);
    else if (!transA && transB)
      gemm_kernel_bf16<false, true, SP><<<grid, kTcThreads, 0, s>>>(M, N, K, alpha, A, B, b, out, bi, kSplit, vecA, vecB, g);
    else if (transA && !transB)
      gemm_kernel_bf16<true, false, SP><<<grid, kTcThreads, 0, s>>>(M, N, K, alpha, A, B, b, out, bi, kSplit, vecA, vecB, g);
    else
      gemm_kernel_bf16<true, true, SP><<<grid, kTcThreads, 0, s>>>(M, N, K, alpha, A, B, b, out, bi, kSplit, vecA, vecB, g);
    check_last(SP ? "gemm_bf16_b (split-K)" : "gemm_bf16_b");
  };
  const dim3 grid2(static_cast<unsigned>(mTiles), static_cast<unsigned>(nTiles));
  if (S <= 1) {
    launch(std::false_type{}, grid2, C, beta, bias, 0, G);
    return;
  }
  const int64_t kSplit = ((K + S - 1) / S + kBfBK - 1) / kBfBK * kBfBK;
  const int splits = static_cast<int>((K + kSplit - 1) / kSplit);
  const int64_t MN = M * N;
  detail::Scratch work(size_t(splits) * size_t(MN) * sizeof(float));  // W: [splits, M, N]
  float* W = work.as<float>();
  launch(std::true_type{}, dim3(grid2.x, grid2.y, static_cast<unsigned>(splits)), W, 0.0f, nullptr, kSplit, nullptr);
  gemm_splitk_reduce<<<static_cast<unsigned>((MN + 255) / 256), 256, 0, s>>>(MN, N, splits, W, beta, C, bias, G);
  check_last("gemm_bf16_b (split-K reduce)");
}
}  // namespace

void gemm_bf16_b(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, const uint32_t* Bh, float beta, float* C, const float* bias) {
  gemm_bf16_b_impl(transA, transB, M, N, K, alpha, A, Bh, beta, C, bias, nullptr);
}

void gemm_bf16_b_gelu(int64_t M, int64_t N, int64_t K, const float* A, const uint32_t* Bh,
                      const float* bias, float* pre, float* out) {
  gemm_bf16_b_impl(false, false, M, N, K, 1.0f, A, Bh, 0.0f, pre, bias, out);
}

}  // namespace cuda
