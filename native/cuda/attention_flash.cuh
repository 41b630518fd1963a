// Attention v2: FlashAttention-2 on tensor cores (included by attention.cu, same contract as v1).
// A block of 4 warps per (batch, head, tile of 64 queries or keys); each warp owns 16 rows.
// K/V (forward, dq) or Q/dO (dk/dv) tiles stream through shared memory as FP32 with cp.async,
// double-buffered; the mma.sync operands are converted to BF16 as they are read from there
// (FP32 accumulate): BF16 runs at twice TF32's tensor-core rate and its 8-bit exponent keeps
// the FP32 range, so no score or probability overflows where the FP32 CPU oracle does not.
// The softmax is online, in registers; only lse (forward) and rowDot = dout . out (backward)
// reach global memory. Every output element is summed by one thread in a fixed order: reruns
// are bit-identical and no float atomics are needed.
#pragma once
#include "common.cuh"
#include "mma.cuh"
#include "philox.h"

namespace cuda {
namespace flash {

constexpr int kWarps = 4, kThreads = kWarps * 32;
constexpr int kTile = kWarps * 16;  // queries (forward, dq) or keys (dk/dv) per block

// One shared-memory row of Dh floats, padded by 4: the fragment reads of the 8 lanes that
// share a tig then hit 8 different banks, and rows stay 16-byte aligned for cp.async.
template <int Dh>
__host__ __device__ constexpr int row_floats() {
  return Dh + 4;
}

__device__ __forceinline__ int64_t imin64(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t imax64(int64_t a, int64_t b) { return a > b ? a : b; }

// Rows [0, rows) of a tile of Dh floats per row into shared memory (row_floats<Dh>() apart),
// rows >= valid zero-filled (edge tiles contribute nothing). vec: 16-byte cp.async (source
// 16-byte aligned, ld a multiple of 4), else 4-byte copies. The caller commits the group.
template <int Dh>
__device__ __forceinline__ void load_tile(float* dst, const float* src, int64_t ld, int rows,
                                          int64_t valid, bool vec) {
  constexpr int LD = row_floats<Dh>();
  if (vec) {
    constexpr int kChunks = Dh / 4;
    for (int c = threadIdx.x; c < rows * kChunks; c += kThreads) {
      const int r = c / kChunks, col = (c % kChunks) * 4;
      float* d = dst + r * LD + col;
      if (r < valid) {
        mma::cp_async<16>(d, src + r * ld + col);
      } else {
        d[0] = d[1] = d[2] = d[3] = 0.0f;
      }
    }
  } else {
    for (int e = threadIdx.x; e < rows * Dh; e += kThreads) {
      const int r = e / Dh, col = e % Dh;
      float* d = dst + r * LD + col;
      if (r < valid)
        mma::cp_async<4>(d, src + r * ld + col);
      else
        *d = 0.0f;
    }
  }
}

// A fragment (m16k16) of rows r0 (gid) and r0 + 8 of a row-major FP32 matrix, columns c0..c0+15.
__device__ __forceinline__ void a_frag(uint32_t a[4], const float* m, int64_t ld, int c0) {
  const int gid = (threadIdx.x & 31) >> 2, tig = threadIdx.x & 3;
  const float* r0 = m + gid * ld + c0 + 2 * tig;
  const float* r1 = r0 + 8 * ld;
  a[0] = mma::bf16x2(r0[0], r0[1]);
  a[1] = mma::bf16x2(r1[0], r1[1]);
  a[2] = mma::bf16x2(r0[8], r0[9]);
  a[3] = mma::bf16x2(r1[8], r1[9]);
}

// B fragment (k16n8) whose B[k][n] = m[n][k] (m row-major, rows n0.., columns k0..): the
// product with m's rows as the columns of B, e.g. S = Q K^T with m = K.
__device__ __forceinline__ void b_frag_rows(uint32_t b[2], const float* m, int ld) {
  const int gid = (threadIdx.x & 31) >> 2, tig = threadIdx.x & 3;
  const float* r = m + gid * ld + 2 * tig;
  b[0] = mma::bf16x2(r[0], r[1]);
  b[1] = mma::bf16x2(r[8], r[9]);
}

// B fragment (k16n8) whose B[k][n] = m[k][n]: e.g. O += P V with m = V (rows = keys).
__device__ __forceinline__ void b_frag_cols(uint32_t b[2], const float* m, int ld) {
  const int gid = (threadIdx.x & 31) >> 2, tig = threadIdx.x & 3;
  const float* c = m + 2 * tig * ld + gid;
  b[0] = mma::bf16x2(c[0], c[ld]);
  b[1] = mma::bf16x2(c[8 * ld], c[9 * ld]);
}

// The A fragment (m16k16) of columns 16kk..16kk+15 of an accumulator tile held as C
// fragments c[n][4] (n-tiles of 8 columns): two C tiles side by side are one A tile.
__device__ __forceinline__ void a_from_c(uint32_t a[4], const float (*c)[4], int kk) {
  a[0] = mma::bf16x2(c[2 * kk][0], c[2 * kk][1]);
  a[1] = mma::bf16x2(c[2 * kk][2], c[2 * kk][3]);
  a[2] = mma::bf16x2(c[2 * kk + 1][0], c[2 * kk + 1][1]);
  a[3] = mma::bf16x2(c[2 * kk + 1][2], c[2 * kk + 1][3]);
}

__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// Last key query i may see, or -1 when its own position is masked or i is past Tq.
__device__ __forceinline__ int64_t last_key(const int32_t* mask, int64_t Tq, int64_t Tk, int64_t i) {
  if (i >= Tq) return -1;
  const int64_t p = Tk - Tq + i;
  return (mask && mask[p] == 0) ? -1 : p;
}

__device__ __forceinline__ bool key_ok(const int32_t* mask, int64_t j) { return mask == nullptr || mask[j] != 0; }

// The dropout mask of element e (philox.h's Dropout::mask), the word picked by selects: an
// indexed pick of the block's 4 words puts them in local memory.
__device__ __forceinline__ float drop_word(const philox::Dropout& d, const philox::Words& w, int k) {
  const uint32_t x = k == 0 ? w.w[0] : k == 1 ? w.w[1] : k == 2 ? w.w[2] : w.w[3];
  return (x >> 8) >= d.threshold ? d.scale : 0.0f;
}
__device__ __forceinline__ float drop_mask(const philox::Dropout& d, uint64_t e) {
  return drop_word(d, d.block(e >> 2), int(e & 3));
}
// Masks of elements e and e + 1 (a lane's two adjacent keys of a row): one Philox block
// serves both unless e ends a block.
__device__ __forceinline__ void drop_pair(const philox::Dropout& d, uint64_t e, float& m0, float& m1) {
  const philox::Words w = d.block(e >> 2);
  const int k = int(e & 3);
  m0 = drop_word(d, w, k);
  m1 = k == 3 ? drop_mask(d, e + 1) : drop_word(d, w, k + 1);
}

struct Shape {
  int64_t H, Tq, Tk, ldq, ldk;
  float scale;
  bool vecQ, vecKV;  // 16-byte cp.async allowed for q/dout rows and for k/v rows
};

// Forward: one block per 64 queries of one (batch, head). Bc keys per streamed tile.
template <int Dh, int Bc>
__global__ void __launch_bounds__(kThreads)
    flash_forward_kernel(const float* q, const float* k, const float* v, const int32_t* keyMask,
                         float* out, float* lse, Shape s, philox::Dropout drop) {
  constexpr int LD = row_floats<Dh>(), NB = Bc / 8, ND = Dh / 8;
  extern __shared__ __align__(16) float smem[];
  float* Ks = smem;                 // [2][Bc][LD]
  float* Vs = smem + 2 * Bc * LD;   // [2][Bc][LD]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, gid = lane >> 2, tig = lane & 3;
  const int64_t qt = int64_t(gridDim.x) - 1 - blockIdx.x;  // the longest (last) tiles first
  const int64_t h = blockIdx.y, b = blockIdx.z, H = s.H, Tq = s.Tq, Tk = s.Tk, D = H * Dh;
  const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
  const int64_t i0 = qt * kTile + warp * 16;  // the warp's first query
  const int64_t ia = i0 + gid, ib = ia + 8;   // this lane's two rows
  const int64_t lastA = last_key(mask, Tq, Tk, ia), lastB = last_key(mask, Tq, Tk, ib);
  // Causal bound of the block's and of the warp's last query.
  const int64_t blockLast = Tk - Tq + imin64(Tq - 1, qt * kTile + kTile - 1);
  const int64_t warpLast = Tk - Tq + imin64(Tq - 1, i0 + 15);
  const float* kb = k + b * Tk * s.ldk + h * Dh;
  const float* vb = v + b * Tk * s.ldk + h * Dh;

  uint32_t qa[Dh / 16][4];  // the warp's 16 queries as A fragments, read once
  {
    const float* q0 = q + (b * Tq + i0) * s.ldq + h * Dh;
    #pragma unroll
    for (int ks = 0; ks < Dh / 16; ++ks) {
      const int c = ks * 16 + 2 * tig;
      const float* ra = q0 + gid * s.ldq + c;
      const float* rb = ra + 8 * s.ldq;
      const bool va = ia < Tq, vb8 = ib < Tq;
      qa[ks][0] = mma::bf16x2(va ? ra[0] : 0.0f, va ? ra[1] : 0.0f);
      qa[ks][1] = mma::bf16x2(vb8 ? rb[0] : 0.0f, vb8 ? rb[1] : 0.0f);
      qa[ks][2] = mma::bf16x2(va ? ra[8] : 0.0f, va ? ra[9] : 0.0f);
      qa[ks][3] = mma::bf16x2(vb8 ? rb[8] : 0.0f, vb8 ? rb[9] : 0.0f);
    }
  }
  float o[ND][4] = {};
  float mA = -INFINITY, mB = -INFINITY, lA = 0.0f, lB = 0.0f;  // l: this lane's partial sums
  const int64_t nTiles = blockLast < 0 ? 0 : blockLast / Bc + 1;
  const int64_t rowA = (b * H + h) * Tq + ia, rowB = rowA + 8;
  auto load = [&](int64_t t) {
    const int st = int(t & 1);
    const int64_t j0 = t * Bc, valid = imin64(Bc, Tk - j0);
    load_tile<Dh>(Ks + st * Bc * LD, kb + j0 * s.ldk, s.ldk, Bc, valid, s.vecKV);
    load_tile<Dh>(Vs + st * Bc * LD, vb + j0 * s.ldk, s.ldk, Bc, valid, s.vecKV);
    mma::cp_async_commit();
  };
  if (nTiles > 0) load(0);
  for (int64_t t = 0; t < nTiles; ++t) {
    if (t + 1 < nTiles) {
      load(t + 1);
      mma::cp_async_wait<1>();
    } else {
      mma::cp_async_wait<0>();
    }
    __syncthreads();
    const int64_t j0 = t * Bc;
    if (j0 <= warpLast) {  // warp-uniform: a tile wholly past the warp's causal bound is skipped
      const float* Kt = Ks + (t & 1) * Bc * LD;
      const float* Vt = Vs + (t & 1) * Bc * LD;
      float sc[NB][4] = {};
      #pragma unroll
      for (int ks = 0; ks < Dh / 16; ++ks)
        #pragma unroll
        for (int n = 0; n < NB; ++n) {
          uint32_t bf[2];
          b_frag_rows(bf, Kt + n * 8 * LD + ks * 16, LD);
          mma::mma_m16n8k16_bf16(sc[n], qa[ks], bf, sc[n]);
        }
      float tmA = -INFINITY, tmB = -INFINITY;
      #pragma unroll
      for (int n = 0; n < NB; ++n)
        #pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int64_t j = j0 + n * 8 + 2 * tig + (e & 1);
          const bool ok = j <= (e < 2 ? lastA : lastB) && key_ok(mask, j);
          sc[n][e] = ok ? sc[n][e] * s.scale : -INFINITY;
          if (e < 2) tmA = fmaxf(tmA, sc[n][e]);
          else tmB = fmaxf(tmB, sc[n][e]);
        }
      const float nmA = fmaxf(mA, quad_max(tmA)), nmB = fmaxf(mB, quad_max(tmB));
      // -inf while a row has seen no key: exp(-inf - 0) = 0 keeps everything at zero
      const float uA = nmA == -INFINITY ? 0.0f : nmA, uB = nmB == -INFINITY ? 0.0f : nmB;
      const float cA = __expf(mA - uA), cB = __expf(mB - uB);
      mA = nmA;
      mB = nmB;
      lA *= cA;
      lB *= cB;
      #pragma unroll
      for (int n = 0; n < ND; ++n) {
        o[n][0] *= cA;
        o[n][1] *= cA;
        o[n][2] *= cB;
        o[n][3] *= cB;
      }
      #pragma unroll
      for (int n = 0; n < NB; ++n) {
        // dropout weights v by the dropped probability; l (the softmax sum) stays undropped.
        // Past a row's last key p = 0, so its mask does not matter.
        float dm[4] = {1.0f, 1.0f, 1.0f, 1.0f};
        const int64_t jp = j0 + n * 8 + 2 * tig;
        if (drop.active() && jp <= lastA) drop_pair(drop, uint64_t(rowA * Tk + jp), dm[0], dm[1]);
        if (drop.active() && jp <= lastB) drop_pair(drop, uint64_t(rowB * Tk + jp), dm[2], dm[3]);
        #pragma unroll
        for (int e = 0; e < 4; ++e) {
          const float p = __expf(sc[n][e] - (e < 2 ? uA : uB));
          if (e < 2) lA += p;
          else lB += p;
          sc[n][e] = p * dm[e];
        }
      }
      #pragma unroll
      for (int kk = 0; kk < Bc / 16; ++kk) {
        uint32_t pa[4];
        a_from_c(pa, sc, kk);
        #pragma unroll
        for (int n = 0; n < ND; ++n) {
          uint32_t bf[2];
          b_frag_cols(bf, Vt + kk * 16 * LD + n * 8, LD);
          mma::mma_m16n8k16_bf16(o[n], pa, bf, o[n]);
        }
      }
    }
    __syncthreads();  // the next iteration's load overwrites this stage
  }
  lA = quad_sum(lA);
  lB = quad_sum(lB);
  const float invA = mA == -INFINITY ? 0.0f : 1.0f / lA, invB = mB == -INFINITY ? 0.0f : 1.0f / lB;
  float* oa = out + (b * Tq + ia) * D + h * Dh + 2 * tig;
  float* ob = oa + 8 * D;
  #pragma unroll
  for (int n = 0; n < ND; ++n) {
    if (ia < Tq) {
      oa[n * 8] = o[n][0] * invA;
      oa[n * 8 + 1] = o[n][1] * invA;
    }
    if (ib < Tq) {
      ob[n * 8] = o[n][2] * invB;
      ob[n * 8 + 1] = o[n][3] * invB;
    }
  }
  if (tig == 0) {
    if (ia < Tq) lse[rowA] = mA == -INFINITY ? -INFINITY : mA + logf(lA);
    if (ib < Tq) lse[rowB] = mB == -INFINITY ? -INFINITY : mB + logf(lB);
  }
}

// rowDot[row] = dout . out of each query row (0 where lse = -inf: no gradient), one warp a row.
template <int Dh>
__global__ void __launch_bounds__(kThreads)
    flash_row_dot_kernel(const float* dout, const float* out, const float* lse, float* rowDots,
                         int64_t rows, int64_t H, int64_t Tq) {
  const int64_t row = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (row >= rows) return;  // per-warp exit: only warp shuffles below
  const int lane = threadIdx.x & 31;
  const int64_t bh = row / Tq, i = row % Tq, b = bh / H, h = bh % H;
  const float* d = dout + (b * Tq + i) * H * Dh + h * Dh;
  const float* o = out + (b * Tq + i) * H * Dh + h * Dh;
  float acc = 0.0f;
  for (int c = lane; c < Dh; c += 32) acc += d[c] * o[c];
  acc = detail::warp_sum(acc);
  if (lane == 0) rowDots[row] = lse[row] == -INFINITY ? 0.0f : acc;
}

// The A fragments of 16 rows (r0 = the warp's first, rows >= n zero) of a row-major matrix.
template <int Dh>
__device__ __forceinline__ void rows_frags(uint32_t a[Dh / 16][4], const float* m, int64_t ld, int64_t r0,
                                           int64_t n) {
  const int gid = (threadIdx.x & 31) >> 2, tig = threadIdx.x & 3;
  const bool va = r0 + gid < n, vb = r0 + gid + 8 < n;
  #pragma unroll
  for (int ks = 0; ks < Dh / 16; ++ks) {
    const float* ra = m + (r0 + gid) * ld + ks * 16 + 2 * tig;
    const float* rb = ra + 8 * ld;
    a[ks][0] = mma::bf16x2(va ? ra[0] : 0.0f, va ? ra[1] : 0.0f);
    a[ks][1] = mma::bf16x2(vb ? rb[0] : 0.0f, vb ? rb[1] : 0.0f);
    a[ks][2] = mma::bf16x2(va ? ra[8] : 0.0f, va ? ra[9] : 0.0f);
    a[ks][3] = mma::bf16x2(vb ? rb[8] : 0.0f, vb ? rb[9] : 0.0f);
  }
}

// dq: one block per 64 queries, streaming K/V tiles as the forward does; P is recomputed from
// lse, dS = P (dP m - rowDot) scale, dq += dS K. Entries past a query's causal bound are 0.
template <int Dh, int Bc>
__global__ void __launch_bounds__(kThreads)
    flash_backward_dq_kernel(const float* dout, const float* q, const float* k, const float* v,
                             const int32_t* keyMask, const float* lse, const float* rowDots,
                             float* dq, Shape s, philox::Dropout drop) {
  constexpr int LD = row_floats<Dh>(), NB = Bc / 8, ND = Dh / 8;
  extern __shared__ __align__(16) float smem[];
  float* Ks = smem;
  float* Vs = smem + 2 * Bc * LD;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, tig = lane & 3;
  const int64_t qt = int64_t(gridDim.x) - 1 - blockIdx.x;
  const int64_t h = blockIdx.y, b = blockIdx.z, H = s.H, Tq = s.Tq, Tk = s.Tk, D = H * Dh;
  const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
  const int64_t i0 = qt * kTile + warp * 16, ia = i0 + (lane >> 2), ib = ia + 8;
  const int64_t rowA = (b * H + h) * Tq + ia, rowB = rowA + 8;
  const float lseA = ia < Tq ? lse[rowA] : -INFINITY, lseB = ib < Tq ? lse[rowB] : -INFINITY;
  const float rdA = ia < Tq ? rowDots[rowA] : 0.0f, rdB = ib < Tq ? rowDots[rowB] : 0.0f;
  // lse = -inf: the query output zeros and has no gradient at all
  const int64_t lastA = lseA == -INFINITY ? -1 : last_key(mask, Tq, Tk, ia);
  const int64_t lastB = lseB == -INFINITY ? -1 : last_key(mask, Tq, Tk, ib);
  const int64_t blockLast = Tk - Tq + imin64(Tq - 1, qt * kTile + kTile - 1);
  const int64_t warpLast = Tk - Tq + imin64(Tq - 1, i0 + 15);
  const float* kb = k + b * Tk * s.ldk + h * Dh;
  const float* vb = v + b * Tk * s.ldk + h * Dh;
  uint32_t qa[Dh / 16][4], da[Dh / 16][4];
  rows_frags<Dh>(qa, q + b * Tq * s.ldq + h * Dh, s.ldq, i0, Tq);
  rows_frags<Dh>(da, dout + b * Tq * D + h * Dh, D, i0, Tq);
  float acc[ND][4] = {};
  const int64_t nTiles = blockLast / Bc + 1;
  auto load = [&](int64_t t) {
    const int st = int(t & 1);
    const int64_t j0 = t * Bc, valid = imin64(Bc, Tk - j0);
    load_tile<Dh>(Ks + st * Bc * LD, kb + j0 * s.ldk, s.ldk, Bc, valid, s.vecKV);
    load_tile<Dh>(Vs + st * Bc * LD, vb + j0 * s.ldk, s.ldk, Bc, valid, s.vecKV);
    mma::cp_async_commit();
  };
  load(0);
  for (int64_t t = 0; t < nTiles; ++t) {
    if (t + 1 < nTiles) {
      load(t + 1);
      mma::cp_async_wait<1>();
    } else {
      mma::cp_async_wait<0>();
    }
    __syncthreads();
    const int64_t j0 = t * Bc;
    if (j0 <= warpLast) {
      const float* Kt = Ks + (t & 1) * Bc * LD;
      const float* Vt = Vs + (t & 1) * Bc * LD;
      float sc[NB][4] = {}, dp[NB][4] = {};
      #pragma unroll
      for (int ks = 0; ks < Dh / 16; ++ks)
        #pragma unroll
        for (int n = 0; n < NB; ++n) {
          uint32_t bf[2];
          b_frag_rows(bf, Kt + n * 8 * LD + ks * 16, LD);
          mma::mma_m16n8k16_bf16(sc[n], qa[ks], bf, sc[n]);
          b_frag_rows(bf, Vt + n * 8 * LD + ks * 16, LD);
          mma::mma_m16n8k16_bf16(dp[n], da[ks], bf, dp[n]);
        }
      #pragma unroll
      for (int n = 0; n < NB; ++n) {
        float dm[4] = {1.0f, 1.0f, 1.0f, 1.0f};  // past a row's last key dS = 0: mask unused
        const int64_t jp = j0 + n * 8 + 2 * tig;
        if (drop.active() && jp <= lastA) drop_pair(drop, uint64_t(rowA * Tk + jp), dm[0], dm[1]);
        if (drop.active() && jp <= lastB) drop_pair(drop, uint64_t(rowB * Tk + jp), dm[2], dm[3]);
        #pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int64_t j = jp + (e & 1);
          const bool causal = j <= (e < 2 ? lastA : lastB);
          const float l = e < 2 ? lseA : lseB;
          const float p = causal && key_ok(mask, j) ? __expf(sc[n][e] * s.scale - l) : 0.0f;
          // a masked key has P = 0 but still multiplies dout . v_j: NaN/Inf propagate as on the CPU
          sc[n][e] = causal ? p * (dp[n][e] * dm[e] - (e < 2 ? rdA : rdB)) * s.scale : 0.0f;
        }
      }
      #pragma unroll
      for (int kk = 0; kk < Bc / 16; ++kk) {
        uint32_t pa[4];
        a_from_c(pa, sc, kk);
        #pragma unroll
        for (int n = 0; n < ND; ++n) {
          uint32_t bf[2];
          b_frag_cols(bf, Kt + kk * 16 * LD + n * 8, LD);
          mma::mma_m16n8k16_bf16(acc[n], pa, bf, acc[n]);
        }
      }
    }
    __syncthreads();
  }
  float* qa0 = dq + (b * Tq + ia) * s.ldq + h * Dh + 2 * tig;
  float* qb0 = qa0 + 8 * s.ldq;
  #pragma unroll
  for (int n = 0; n < ND; ++n) {
    if (ia < Tq) {
      qa0[n * 8] += acc[n][0];
      qa0[n * 8 + 1] += acc[n][1];
    }
    if (ib < Tq) {
      qb0[n * 8] += acc[n][2];
      qb0[n * 8 + 1] += acc[n][3];
    }
  }
}

// dk, dv: one block per 64 keys (K/V held in shared memory), streaming the Q/dout tiles of Br
// queries that can see them; each warp sums dv += (P m)^T dout and dk += dS^T q for its 16 keys.
template <int Dh, int Br>
__global__ void __launch_bounds__(kThreads)
    flash_backward_dkv_kernel(const float* dout, const float* q, const float* k, const float* v,
                              const int32_t* keyMask, const float* lse, const float* rowDots,
                              float* dk, float* dv, Shape s, philox::Dropout drop) {
  constexpr int LD = row_floats<Dh>(), NB = Br / 8, ND = Dh / 8;
  extern __shared__ __align__(16) float smem[];
  float* Kk = smem;                   // [kTile][LD]
  float* Vk = smem + kTile * LD;      // [kTile][LD]
  float* Qs = Vk + kTile * LD;        // [2][Br][LD]
  float* Ds = Qs + 2 * Br * LD;       // [2][Br][LD] dout
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, tig = lane & 3;
  const int64_t h = blockIdx.y, b = blockIdx.z, H = s.H, Tq = s.Tq, Tk = s.Tk, D = H * Dh;
  const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
  const int64_t jBlock = int64_t(blockIdx.x) * kTile, jw = jBlock + warp * 16;
  const int64_t ja = jw + (lane >> 2), jb = ja + 8;
  const float* qb = q + b * Tq * s.ldq + h * Dh;
  const float* db = dout + b * Tq * D + h * Dh;
  const float* lseB = lse + (b * H + h) * Tq;
  const float* rdB = rowDots + (b * H + h) * Tq;
  const int64_t valid = imin64(kTile, Tk - jBlock);
  load_tile<Dh>(Kk, k + (b * Tk + jBlock) * s.ldk + h * Dh, s.ldk, kTile, valid, s.vecKV);
  load_tile<Dh>(Vk, v + (b * Tk + jBlock) * s.ldk + h * Dh, s.ldk, kTile, valid, s.vecKV);
  mma::cp_async_commit();
  // Query i sits at key position Tk - Tq + i and sees key j when that is >= j.
  const int64_t tFirst = imax64(0, jBlock - (Tk - Tq)) / Br, nTiles = (Tq + Br - 1) / Br;
  auto load = [&](int64_t t) {
    const int st = int(t & 1);
    const int64_t i0 = t * Br, n = imin64(Br, Tq - i0);
    load_tile<Dh>(Qs + st * Br * LD, qb + i0 * s.ldq, s.ldq, Br, n, s.vecQ);
    load_tile<Dh>(Ds + st * Br * LD, db + i0 * D, D, Br, n, s.vecQ);
    mma::cp_async_commit();
  };
  load(tFirst);
  float dkAcc[ND][4] = {}, dvAcc[ND][4] = {};
  for (int64_t t = tFirst; t < nTiles; ++t) {
    if (t + 1 < nTiles) {
      load(t + 1);
      mma::cp_async_wait<1>();
    } else {
      mma::cp_async_wait<0>();
    }
    __syncthreads();
    const int64_t i0 = t * Br;
    // warp-uniform: skip keys past Tk and tiles whose last query cannot see the warp's first key
    if (jw < Tk && jw <= Tk - Tq + imin64(Tq - 1, i0 + Br - 1)) {
      const float* Qt = Qs + (t & 1) * Br * LD;
      const float* Dt = Ds + (t & 1) * Br * LD;
      float sc[NB][4] = {}, dp[NB][4] = {};
      #pragma unroll
      for (int ks = 0; ks < Dh / 16; ++ks) {
        uint32_t ka[4], va[4];
        a_frag(ka, Kk + warp * 16 * LD, LD, ks * 16);
        a_frag(va, Vk + warp * 16 * LD, LD, ks * 16);
        #pragma unroll
        for (int n = 0; n < NB; ++n) {
          uint32_t bf[2];
          b_frag_rows(bf, Qt + n * 8 * LD + ks * 16, LD);
          mma::mma_m16n8k16_bf16(sc[n], ka, bf, sc[n]);
          b_frag_rows(bf, Dt + n * 8 * LD + ks * 16, LD);
          mma::mma_m16n8k16_bf16(dp[n], va, bf, dp[n]);
        }
      }
      #pragma unroll
      for (int n = 0; n < NB; ++n)
        #pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int64_t j = e < 2 ? ja : jb, i = i0 + n * 8 + 2 * tig + (e & 1);
          const float l = i < Tq ? lseB[i] : -INFINITY;
          // lse = -inf: own position masked or no key seen, the query has no gradient
          const bool causal = l != -INFINITY && j < Tk && j <= Tk - Tq + i;
          const float p = causal && key_ok(mask, j) ? __expf(sc[n][e] * s.scale - l) : 0.0f;
          const int64_t row = (b * H + h) * Tq + i;
          const float m = causal && drop.active() ? drop_mask(drop, uint64_t(row * Tk + j)) : 1.0f;
          sc[n][e] = causal ? p * (dp[n][e] * m - rdB[i]) * s.scale : 0.0f;  // dS
          dp[n][e] = p * m;  // dv takes the dropped probability
        }
      #pragma unroll
      for (int kk = 0; kk < Br / 16; ++kk) {
        uint32_t sa[4], pa[4];
        a_from_c(sa, sc, kk);
        a_from_c(pa, dp, kk);
        #pragma unroll
        for (int n = 0; n < ND; ++n) {
          uint32_t bf[2];
          b_frag_cols(bf, Qt + kk * 16 * LD + n * 8, LD);
          mma::mma_m16n8k16_bf16(dkAcc[n], sa, bf, dkAcc[n]);
          b_frag_cols(bf, Dt + kk * 16 * LD + n * 8, LD);
          mma::mma_m16n8k16_bf16(dvAcc[n], pa, bf, dvAcc[n]);
        }
      }
    }
    __syncthreads();
  }
  float* ka0 = dk + (b * Tk + ja) * s.ldk + h * Dh + 2 * tig;
  float* va0 = dv + (b * Tk + ja) * s.ldk + h * Dh + 2 * tig;
  const int64_t jump = 8 * s.ldk;
  #pragma unroll
  for (int n = 0; n < ND; ++n) {
    if (ja < Tk) {
      ka0[n * 8] += dkAcc[n][0];
      ka0[n * 8 + 1] += dkAcc[n][1];
      va0[n * 8] += dvAcc[n][0];
      va0[n * 8 + 1] += dvAcc[n][1];
    }
    if (jb < Tk) {
      ka0[jump + n * 8] += dkAcc[n][2];
      ka0[jump + n * 8 + 1] += dkAcc[n][3];
      va0[jump + n * 8] += dvAcc[n][2];
      va0[jump + n * 8 + 1] += dvAcc[n][3];
    }
  }
}

}  // namespace flash
}  // namespace cuda
