// GEMM: C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] (+ bias), row-major fp32.
// Cache-blocked and packed: B is packed into kc x NR column panels (one per L1-sized
// micro-panel), A into MR x kc row panels, and a register-blocked micro-kernel
// computes each MR x NR tile of C. The micro-kernel is picked at run time: AVX-512,
// AVX2, or portable C++ so the addon runs on any x86-64 (or other) CPU.
#include <omp.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CLLM4REC_X86 1
#endif

#include "kernels.h"
#include "kernels_cpu.h"
#include "bf16.h"
#include "pack.h"
#include "simd.h"

namespace cpu {

namespace {

constexpr int64_t kKC = 256;      // depth of one packed block (B micro-panel ~32 KB, fits L1)
constexpr int64_t kMC = 144;      // rows of A per task (A block ~144 KB, fits L2)
constexpr int64_t kNChunk = 256;  // fewest columns per task
// Most columns per task: 144 x 768 floats of C (442 KB) stay in L2 across a task's depth
// blocks. Paired runs against the FMA loop at the GPT-2 shapes (one core): +5% over all of
// N per task (+8-13% where K = 768); 512 was 1% behind, 1024 level.
constexpr int64_t kNMax = 768;
constexpr int64_t kSlabFloats = int64_t(8) << 20;  // packed B per slab (32 MB, shared)
constexpr size_t kHugePage = size_t(2) << 20;  // scratch this large asks for huge pages (+2%)
// Split-K (few row/column tasks, deep K): partial products per depth split, summed in a
// fixed order. Used when the ordinary (row block, column chunk) tasks are fewer than
// kSplitMinTasks and K >= kSplitMinK; the split count depends on the shape only.
constexpr int64_t kSplitMinTasks = 16;
constexpr int64_t kSplitMinK = 2048;
constexpr int64_t kSplitMinDepth = 1024;              // depth of one split at least
constexpr int64_t kSplitMaxFloats = int64_t(4) << 20;  // all partials (16 MB)
// Outputs this large (beta == 0) bypass the cache with non-temporal stores: writing
// them is bound by memory bandwidth, and a read-for-ownership would double it.
constexpr int64_t kStreamMinFloats = int64_t(16) << 20;  // 64 MB
// Small-M "dot" path for op(B) stored [N, K] (transB): no packing; each output is a dot
// product of an A row and a B row, register-blocked, with B rows reused from L1 across
// all rows of A. Used for M <= kDotMaxM and K >= kDotMinK (measured: ahead of the packed
// path for M <= 256 at K = 64..768; behind it at M = 512).
constexpr int64_t kDotMaxM = 256;
constexpr int64_t kDotMinK = 32;
constexpr int64_t kDotKC = 1024;    // depth block of the dot path (B rows stay in L1)
constexpr int64_t kDotCols = 96;    // B rows (columns of C) per task

// A grow-only, 64-byte aligned scratch buffer owned by the calling thread (three per
// thread: the caller's shared buffer (packed B, split-K partials, packed A of the dot
// path and of the BF16 GEMM), and each worker's own packed A (fp32 or BF16) and its packed
// B or output staging tile).
template <int Slot>
float* scratch_slot(int64_t floats) {
  thread_local float* buf = nullptr;
  thread_local int64_t cap = 0;
  if (floats > cap) {
    std::free(buf);
    const size_t bytes = ((size_t(floats) * sizeof(float)) + 63) / 64 * 64;
#ifdef __linux__
    if (bytes >= kHugePage) {  // packed B slabs (up to 32 MB): 2 MB pages spare the TLB
      const size_t big = (bytes + kHugePage - 1) / kHugePage * kHugePage;
      buf = static_cast<float*>(std::aligned_alloc(kHugePage, big));
      if (buf) madvise(buf, big, MADV_HUGEPAGE);  // advice only: 4 KB pages if refused
    } else
#endif
      buf = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!buf) {  // the caller checks: no exception may leave an OpenMP region
      cap = 0;
      return nullptr;
    }
    cap = floats;
  }
  return buf;
}

float* scratch(int64_t floats) { return scratch_slot<0>(floats); }
float* thread_scratch(int64_t floats) { return scratch_slot<1>(floats); }
float* thread_scratch2(int64_t floats) { return scratch_slot<2>(floats); }

// Columns per task of the packed GEMMs (fp32 and BF16) over N columns in icBlocks row blocks:
// as wide as the row blocks allow while every thread still gets a few tasks, so a task packs
// its A block once per depth block for many columns (at 256 columns the BF16 packing cost
// about as much as the products); at least `fewest`; at most kNMax, so the task's block of C
// stays in L2 across its depth blocks. A multiple of nr. Per-element sums do not depend on it.
int64_t task_columns(int64_t N, int64_t icBlocks, int64_t nr, int64_t fewest) {
  const int64_t groups = std::max<int64_t>(1, (4 * omp_get_max_threads() + icBlocks - 1) / icBlocks);
  return std::min<int64_t>(kNMax, std::max<int64_t>(fewest, (N + groups * nr - 1) / (groups * nr) * nr));
}

// Writes one MR x NR accumulator tile (row-major, ld NR) into C with alpha/beta/bias.
template <int MR, int NR>
void store_tile(const float* acc, int64_t mr, int64_t nr, float* c, int64_t ldc, float alpha,
                float beta, const float* bias) {
  for (int64_t i = 0; i < mr; ++i) {
    float* ci = c + i * ldc;
    for (int64_t j = 0; j < nr; ++j) {
      float v = alpha * acc[i * NR + j];
      if (beta != 0.0f) v += beta * ci[j];
      if (bias) v += bias[j];
      ci[j] = v;
    }
  }
}

// Portable micro-kernel: 4 rows x 8 columns in 4-lane GCC vectors (SSE2 on any x86-64,
// NEON elsewhere): 8 vector accumulators, no target-specific code.
typedef float v4sf __attribute__((vector_size(16)));

void kernel_portable(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                     float alpha, float beta, const float* bias) {
  constexpr int MR = 4, NR = 8;
  v4sf acc0[MR] = {}, acc1[MR] = {};
  for (int64_t p = 0; p < kc; ++p, a += MR, b += NR) {
    v4sf b0, b1;
    std::memcpy(&b0, b, sizeof b0);
    std::memcpy(&b1, b + 4, sizeof b1);
    for (int i = 0; i < MR; ++i) {
      const v4sf ai = {a[i], a[i], a[i], a[i]};
      acc0[i] += ai * b0;
      acc1[i] += ai * b1;
    }
  }
  float tile[MR * NR];
  for (int i = 0; i < MR; ++i) {
    std::memcpy(tile + i * NR, &acc0[i], sizeof acc0[i]);
    std::memcpy(tile + i * NR + 4, &acc1[i], sizeof acc1[i]);
  }
  store_tile<MR, NR>(tile, MR, NR, c, ldc, alpha, beta, bias);
}

#ifdef CLLM4REC_X86
// AVX-512 micro-kernel: 12 rows x 32 columns = 24 zmm accumulators.
__attribute__((target("avx512f,fma"))) void kernel_avx512(int64_t kc, const float* a,
                                                          const float* b, float* c, int64_t ldc,
                                                          float alpha, float beta,
                                                          const float* bias) {
  constexpr int MR = 12;
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p, a += MR, b += 32) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_fmadd_ps(va, acc0[i], bias0), r1 = _mm512_fmadd_ps(va, acc1[i], bias1);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci + 16), r1);
    }
    _mm512_storeu_ps(ci, r0);
    _mm512_storeu_ps(ci + 16, r1);
  }
}

// AVX2 micro-kernel: 6 rows x 16 columns = 12 ymm accumulators.
__attribute__((target("avx2,fma"))) void kernel_avx2(int64_t kc, const float* a, const float* b,
                                                     float* c, int64_t ldc, float alpha,
                                                     float beta, const float* bias) {
  constexpr int MR = 6;
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; ++p, a += MR, b += 16) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  const __m256 bias0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 bias1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    __m256 r0 = _mm256_fmadd_ps(va, acc0[i], bias0), r1 = _mm256_fmadd_ps(va, acc1[i], bias1);
    if (beta != 0.0f) {
      r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
      r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
    }
    _mm256_storeu_ps(ci, r0);
    _mm256_storeu_ps(ci + 8, r1);
  }
}

// Dot-product tiles for the small-M path: out[i * RB + j] = sum_p a[i][p] * b[j][p] over
// p < kc, for RA rows of A and RB rows of B (both contiguous along the depth). The
// depth runs in full vectors, then one masked tail; each sum ends in a horizontal add.
template <int RA, int RB>
__attribute__((target("avx512f,fma"))) void dot_tile_avx512(int64_t kc, const float* const* a,
                                                            const float* const* b, float* out) {
  __m512 acc[RA][RB];
#pragma GCC unroll 8
  for (int i = 0; i < RA; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) acc[i][j] = _mm512_setzero_ps();
  const float* ap[RA];
  const float* bp[RB];
#pragma GCC unroll 8
  for (int i = 0; i < RA; ++i) ap[i] = a[i];
#pragma GCC unroll 8
  for (int j = 0; j < RB; ++j) bp[j] = b[j];
  int64_t p = 0;
  for (; p + 16 <= kc; p += 16) {
    __m512 bv[RB];
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) bv[j] = _mm512_loadu_ps(bp[j] + p);
#pragma GCC unroll 8
    for (int i = 0; i < RA; ++i) {
      const __m512 av = _mm512_loadu_ps(ap[i] + p);
#pragma GCC unroll 8
      for (int j = 0; j < RB; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  if (p < kc) {
    const __mmask16 m = __mmask16((1u << (kc - p)) - 1);
    __m512 bv[RB];
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) bv[j] = _mm512_maskz_loadu_ps(m, bp[j] + p);
#pragma GCC unroll 8
    for (int i = 0; i < RA; ++i) {
      const __m512 av = _mm512_maskz_loadu_ps(m, ap[i] + p);
#pragma GCC unroll 8
      for (int j = 0; j < RB; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < RA; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) out[i * RB + j] = _mm512_reduce_add_ps(acc[i][j]);
}

template <int RA, int RB>
__attribute__((target("avx2,fma"))) void dot_tile_avx2(int64_t kc, const float* const* a,
                                                       const float* const* b, float* out) {
  __m256 acc[RA][RB];
#pragma GCC unroll 8
  for (int i = 0; i < RA; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) acc[i][j] = _mm256_setzero_ps();
  const float* ap[RA];
  const float* bp[RB];
#pragma GCC unroll 8
  for (int i = 0; i < RA; ++i) ap[i] = a[i];
#pragma GCC unroll 8
  for (int j = 0; j < RB; ++j) bp[j] = b[j];
  int64_t p = 0;
  for (; p + 8 <= kc; p += 8) {
    __m256 bv[RB];
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) bv[j] = _mm256_loadu_ps(bp[j] + p);
#pragma GCC unroll 8
    for (int i = 0; i < RA; ++i) {
      const __m256 av = _mm256_loadu_ps(ap[i] + p);
#pragma GCC unroll 8
      for (int j = 0; j < RB; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  alignas(32) float lanes[8];
#pragma GCC unroll 8
  for (int i = 0; i < RA; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) {
      const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[i][j]),
                                  _mm256_extractf128_ps(acc[i][j], 1));
      _mm_store_ps(lanes, h);
      float t = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
      for (int64_t q = p; q < kc; ++q) t += ap[i][q] * bp[j][q];  // depth tail
      out[i * RB + j] = t;
    }
}
#endif

using KernelFn = void (*)(int64_t, const float*, const float*, float*, int64_t, float, float,
                          const float*);

#ifdef CLLM4REC_X86
// The AVX-512 packers (MR = 12, NR = 32: the AVX-512 micro-kernel's panels). Packing is a
// copy, so these give the same panels as the scalar loops below, bit for bit; they replace
// the scalar strided copies, which cost 4-10% of a GPT-2-shape GEMM on one core.
using pack::first_lanes;
using pack::panel12_from_rows;
using pack::transposed_rows;

// pack_a<12> for A stored [M, K]: 16 depth steps of a panel's 12 rows load as 12 vectors,
// transpose, and store as 16 runs of 12 floats.
__attribute__((target("avx512f"))) void pack_a12_rows(const float* A, int64_t K, int64_t i0, int64_t mc,
                                                     int64_t p0, int64_t kc, float* dst) {
  constexpr int MR = 12;
  for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
    const int64_t mr = std::min<int64_t>(MR, mc - ir);
    const float* src = A + (i0 + ir) * K + p0;
    const int64_t ahead = std::min(kKC, K - p0 - kc);  // each row's next depth block
    for (int64_t r = 0; r < mr; ++r)
      for (int64_t q = 0; q < ahead; q += 16) __builtin_prefetch(src + r * K + kc + q, 0, 2);
    panel12_from_rows(src, K, mr, kc, dst);
  }
}

// pack_a<12> for A stored [K, M]: each depth step is a run of up to 12 floats.
__attribute__((target("avx512f"))) void pack_a12_cols(const float* A, int64_t M, int64_t K, int64_t i0,
                                                     int64_t mc, int64_t p0, int64_t kc, float* dst) {
  constexpr int MR = 12;
  for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
    const __mmask16 m = first_lanes(std::min<int64_t>(MR, mc - ir));
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = A + (p0 + p) * M + i0 + ir;
      if (p0 + p + kKC < K) __builtin_prefetch(src + kKC * M, 0, 2);  // as in pack_a
      _mm512_mask_storeu_ps(dst + p * MR, 0x0fff, _mm512_maskz_loadu_ps(m, src));
    }
  }
}

// pack_b_panel<32>: B stored [K, N] copies two (masked) vectors per depth step; B stored
// [N, K] transposes 16 columns x 16 depth steps at a time.
__attribute__((target("avx512f"))) void pack_b32(bool transB, const float* B, int64_t N, int64_t K, int64_t p0,
                                                int64_t kc, int64_t j, int64_t nr, float* dst) {
  constexpr int NR = 32;
  if (!transB) {
    const __mmask16 m0 = first_lanes(nr), m1 = first_lanes(std::max<int64_t>(0, nr - 16));
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = B + (p0 + p) * N + j;
      _mm512_store_ps(dst + p * NR, _mm512_maskz_loadu_ps(m0, src));
      _mm512_store_ps(dst + p * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
    }
    return;
  }
  for (int64_t cb = 0; cb < NR; cb += 16) {
    const int64_t rows = std::max<int64_t>(0, std::min<int64_t>(16, nr - cb));  // 0: zeros only
    transposed_rows<NR>(rows > 0 ? B + (j + cb) * K + p0 : B, K, rows, kc, dst + cb);
  }
}
#endif

// Packs rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) into MR-row panels, zero-padded.
template <int MR>
void pack_a(bool transA, const float* A, int64_t M, int64_t K, int64_t i0, int64_t mc,
            int64_t p0, int64_t kc, float* dst) {
#ifdef CLLM4REC_X86
  if constexpr (MR == 12)  // the AVX-512 kernel's panels: the vector packers below
    return transA ? pack_a12_cols(A, M, K, i0, mc, p0, kc, dst) : pack_a12_rows(A, K, i0, mc, p0, kc, dst);
#endif
  for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
    const int64_t mr = std::min<int64_t>(MR, mc - ir);
    if (transA) {  // A stored [K, M]: a panel row-slice is contiguous
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = A + (p0 + p) * M + i0 + ir;
        // the same rows one depth block on, which the task packs next (software
        // prefetch: these short runs are too short for the hardware to pick up)
        if (p0 + p + kKC < K) __builtin_prefetch(src + kKC * M, 0, 2);
        float* d = dst + p * MR;
        for (int64_t r = 0; r < mr; ++r) d[r] = src[r];
        for (int64_t r = mr; r < MR; ++r) d[r] = 0.0f;
      }
    } else {  // A stored [M, K]
      for (int64_t r = 0; r < MR; ++r) {
        if (r < mr) {
          const float* src = A + (i0 + ir + r) * K + p0;
          const int64_t ahead = std::min(kKC, K - p0 - kc);  // the row's next depth block
          for (int64_t q = 0; q < ahead; q += 16) __builtin_prefetch(src + kc + q, 0, 2);
          for (int64_t p = 0; p < kc; ++p) dst[p * MR + r] = src[p];
        } else {
          for (int64_t p = 0; p < kc; ++p) dst[p * MR + r] = 0.0f;
        }
      }
    }
  }
}

// Packs depth [p0, p0+kc) x columns [j0, j0+nc) of op(B) into NR-column panels.
template <int NR>
void pack_b_panel(bool transB, const float* B, int64_t N, int64_t K, int64_t p0, int64_t kc,
                  int64_t j, int64_t nr, float* dst) {
#ifdef CLLM4REC_X86
  if constexpr (NR == 32) return pack_b32(transB, B, N, K, p0, kc, j, nr, dst);  // AVX-512 panels
#endif
  if (!transB) {  // B stored [K, N]: each depth step is a contiguous run of columns
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = B + (p0 + p) * N + j;
      float* d = dst + p * NR;
      for (int64_t c = 0; c < nr; ++c) d[c] = src[c];
      for (int64_t c = nr; c < NR; ++c) d[c] = 0.0f;
    }
  } else {  // B stored [N, K]
    for (int64_t c = 0; c < NR; ++c) {
      if (c < nr) {
        const float* src = B + (j + c) * K + p0;
        for (int64_t p = 0; p < kc; ++p) dst[p * NR + c] = src[p];
      } else {
        for (int64_t p = 0; p < kc; ++p) dst[p * NR + c] = 0.0f;
      }
    }
  }
}

// Copies a rows x cols tile (src row stride lds) into C (row stride ldd) with
// non-temporal stores for the aligned middle of each row; the fence is the caller's.
using StreamFn = void (*)(const float*, int64_t, float*, int64_t, int64_t, int64_t);

void stream_rows_plain(const float* src, int64_t lds, float* dst, int64_t ldd, int64_t rows,
                       int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(dst + r * ldd, src + r * lds, size_t(cols) * sizeof(float));
}

#ifdef CLLM4REC_X86
template <int Align>
CLLM4REC_INLINE int64_t head_floats(const float* d, int64_t cols) {
  const int64_t h = int64_t((Align - (reinterpret_cast<uintptr_t>(d) & (Align - 1))) & (Align - 1)) / 4;
  return std::min(h, cols);
}

void stream_rows_sse(const float* src, int64_t lds, float* dst, int64_t ldd, int64_t rows,
                     int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * lds;
    float* d = dst + r * ldd;
    int64_t c = head_floats<16>(d, cols);
    for (int64_t q = 0; q < c; ++q) d[q] = s[q];
    for (; c + 4 <= cols; c += 4) _mm_stream_ps(d + c, _mm_loadu_ps(s + c));
    for (; c < cols; ++c) d[c] = s[c];
  }
}

__attribute__((target("avx512f"))) void stream_rows_avx512(const float* src, int64_t lds,
                                                           float* dst, int64_t ldd, int64_t rows,
                                                           int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * lds;
    float* d = dst + r * ldd;
    int64_t c = head_floats<64>(d, cols);
    for (int64_t q = 0; q < c; ++q) d[q] = s[q];
    for (; c + 16 <= cols; c += 16) _mm512_stream_ps(d + c, _mm512_loadu_ps(s + c));
    for (; c < cols; ++c) d[c] = s[c];
  }
}
#endif

void stream_fence() {
#ifdef CLLM4REC_X86
  _mm_sfence();
#endif
}

// Prefetches the C tile that the next micro-kernel call reads or writes (short depths:
// the kernel is then too brief to hide the misses on C).
template <int MR, int NR>
CLLM4REC_INLINE void prefetch_tile(const float* c, int64_t ldc, int64_t mr, int64_t nr) {
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; j += 16) __builtin_prefetch(c + i * ldc + j, 1, 3);
}

// B is packed one column slab at a time (all of K, up to kSlabFloats), with one barrier;
// then threads take (column chunk, row block) tasks dynamically, each walking the whole
// depth with its own packed A block. A thread that the OS deschedules (the machine is
// shared) then delays only its own task, not a barrier per depth block.
template <int MR, int NR>
void gemm_packed(KernelFn kernel, StreamFn streamFn, bool transA, bool transB, int64_t M,
                 int64_t N, int64_t K, float alpha, const float* A, const float* B, float beta,
                 float* C, const float* bias) {
  // A huge output written once: each task builds its tile in a cached staging buffer,
  // then streams it out.
  const bool stream = streamFn && beta == 0.0f && M * N >= kStreamMinFloats;
  const int64_t kBlocks = (K + kKC - 1) / kKC;
  // Column slab: as many NR panels as fit kSlabFloats of packed B.
  const int64_t slabPanels = std::max<int64_t>(1, kSlabFloats / (kBlocks * kKC * NR));
  const int64_t slabCols = std::min(N, slabPanels * NR);
  const int64_t panelsPerSlab = (slabCols + NR - 1) / NR;
  float* bp = scratch(kBlocks * panelsPerSlab * NR * kKC);
  if (!bp) throw std::bad_alloc();
  bool outOfMemory = false;
  for (int64_t jc = 0; jc < N; jc += slabCols) {
    const int64_t nc = std::min(slabCols, N - jc);
    const int64_t nPanels = (nc + NR - 1) / NR;
    const int64_t icBlocks = (M + kMC - 1) / kMC;
    // the streamed path keeps kNChunk columns per task (its staging tile)
    const int64_t cw = stream ? kNChunk : task_columns(nc, icBlocks, NR, kNChunk);
    const int64_t jChunks = (nc + cw - 1) / cw;
#pragma omp parallel
    {
      // Packed panel (pc, q) lives at bp + (pc * nPanels + q) * NR * kKC.
#pragma omp for schedule(static) collapse(2)
      for (int64_t pcb = 0; pcb < kBlocks; ++pcb)
        for (int64_t q = 0; q < nPanels; ++q) {
          const int64_t pc = pcb * kKC, kc = std::min(kKC, K - pc);
          pack_b_panel<NR>(transB, B, N, K, pc, kc, jc + q * NR,
                           std::min<int64_t>(NR, nc - q * NR), bp + (pcb * nPanels + q) * NR * kKC);
        }
      float* ap = thread_scratch(kMC * kKC);
      float* stage = stream ? thread_scratch2(kMC * kNChunk) : nullptr;
      if (!ap || (stream && !stage)) {
        ap = nullptr;
#pragma omp atomic write
        outOfMemory = true;
      }
      alignas(64) float tile[MR * NR];
#pragma omp for schedule(dynamic, 1) collapse(2)
      // column chunk outermost: the tasks running at once share one chunk of packed B in L3
      for (int64_t jb = 0; jb < jChunks; ++jb) {
        for (int64_t ib = 0; ib < icBlocks; ++ib) {
          if (!ap) continue;
          const int64_t i0 = ib * kMC, mc = std::min(kMC, M - i0);
          const int64_t j0 = jb * cw, j1 = std::min(nc, j0 + cw);
          for (int64_t pcb = 0; pcb < kBlocks; ++pcb) {
            const int64_t pc = pcb * kKC, kc = std::min(kKC, K - pc);
            const bool first = pcb == 0;
            const float betaEff = first ? beta : 1.0f;  // later depth blocks add onto C
            pack_a<MR>(transA, A, M, K, i0, mc, pc, kc, ap);
            for (int64_t jr = j0; jr < j1; jr += NR) {
              const int64_t nr = std::min<int64_t>(NR, j1 - jr);
              const float* bpan = bp + (pcb * nPanels + jr / NR) * NR * kKC;
              const float* biasJ = (first && bias) ? bias + jc + jr : nullptr;
              // Deep products (4 depth blocks or more, AVX-512 kernel: measured there only):
              // the B panel this task multiplies next (this depth block's next one, else the
              // next block's first) has its lines prefetched, a share per micro-kernel call,
              // with the non-temporal hint. Over six paired runs of the GPT-2 shapes: +2 to +7%
              // on average where K = 2304..3072; level or slightly behind where K = 768.
              const bool nextInBlock = jr + NR < j1;
              const float* bnext = MR != 12 || kBlocks < 4 ? nullptr
                                   : nextInBlock           ? bpan + NR * kKC
                                   : pcb + 1 < kBlocks     ? bp + ((pcb + 1) * nPanels + j0 / NR) * NR * kKC
                                                           : nullptr;
              const int64_t nextLines = (nextInBlock ? kc : std::min(kKC, K - pc - kKC)) * NR / 16;
              const int64_t calls = (mc + MR - 1) / MR;
              for (int64_t ir = 0; ir < mc; ir += MR) {
                const int64_t mr = std::min<int64_t>(MR, mc - ir);
                const float* apan = ap + ir * kc;
                float* c = stream ? stage + ir * kNChunk + (jr - j0) : C + (i0 + ir) * N + jc + jr;
                const int64_t ldc = stream ? kNChunk : N;
                if (bnext)
                  for (int64_t l = ir / MR * nextLines / calls, l1 = (ir / MR + 1) * nextLines / calls; l < l1; ++l)
                    __builtin_prefetch(bnext + l * 16, 0, 0);
                if (!stream && kc <= 64 && ir + MR < mc)
                  prefetch_tile<MR, NR>(c + MR * ldc, ldc, std::min<int64_t>(MR, mc - ir - MR), nr);
                if (mr == MR && nr == NR) {
                  kernel(kc, apan, bpan, c, ldc, alpha, betaEff, biasJ);
                } else {  // edge tile: full tile into scratch, then merge the valid part
                  kernel(kc, apan, bpan, tile, NR, 1.0f, 0.0f, nullptr);
                  store_tile<MR, NR>(tile, mr, nr, c, ldc, alpha, betaEff, biasJ);
                }
              }
            }
          }
          if (stream) streamFn(stage, kNChunk, C + i0 * N + jc + j0, N, mc, j1 - j0);
        }
      }
      if (stream) stream_fence();  // before the barrier: the caller then reads C
    }
    if (outOfMemory) throw std::bad_alloc();
  }
}

// Number of depth splits for split-K (1 = none). A function of the shape only, so the
// result is the same for any thread count.
int64_t split_count(int64_t M, int64_t N, int64_t K) {
  const int64_t tasks = ((M + kMC - 1) / kMC) * ((N + kNChunk - 1) / kNChunk);
  if (tasks >= kSplitMinTasks || K < kSplitMinK) return 1;
  const int64_t jChunks = (N + kNChunk - 1) / kNChunk;
  int64_t S = (kSplitMinTasks + jChunks - 1) / jChunks;
  S = std::min(S, K / kSplitMinDepth);
  S = std::min(S, kSplitMaxFloats / (M * N));
  return std::max<int64_t>(S, 1);
}

// Split-K for few output tiles and a deep K (dh = dlogits @ W: M=600, N=128, K=50257):
// task (s, column chunk) computes alpha * op(A)[:, Ks] op(B)[Ks, chunk] for its depth
// range Ks into partial P[s] (packing its own B panels and A blocks, each A element
// once), then C = beta * C + (P[0] + P[1] + ... ) + bias, summed in that fixed order.
template <int MR, int NR>
void gemm_splitk(KernelFn kernel, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                 float alpha, const float* A, const float* B, float beta, float* C,
                 const float* bias, int64_t S) {
  const int64_t kBlocks = (K + kKC - 1) / kKC;
  const int64_t depth = (kBlocks + S - 1) / S * kKC;  // splits on depth-block boundaries
  S = (K + depth - 1) / depth;
  const int64_t jChunks = (N + kNChunk - 1) / kNChunk;
  float* P = scratch(S * M * N);
  if (!P) throw std::bad_alloc();
  bool outOfMemory = false;
#pragma omp parallel
  {
    float* ap = thread_scratch(kMC * kKC);
    float* bp = thread_scratch2(kNChunk * kKC);
    if (!ap || !bp) {
      ap = nullptr;
#pragma omp atomic write
      outOfMemory = true;
    }
    alignas(64) float tile[MR * NR];
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int64_t s = 0; s < S; ++s) {
      for (int64_t jb = 0; jb < jChunks; ++jb) {
        if (!ap) continue;
        float* Ps = P + s * M * N;
        const int64_t k0 = s * depth, k1 = std::min(K, k0 + depth);
        const int64_t j0 = jb * kNChunk, nc = std::min(kNChunk, N - j0);
        for (int64_t pc = k0; pc < k1; pc += kKC) {
          const int64_t kc = std::min(kKC, k1 - pc);
          const float betaEff = pc == k0 ? 0.0f : 1.0f;
          for (int64_t q = 0; q * NR < nc; ++q)
            pack_b_panel<NR>(transB, B, N, K, pc, kc, j0 + q * NR,
                             std::min<int64_t>(NR, nc - q * NR), bp + q * NR * kc);
          for (int64_t i0 = 0; i0 < M; i0 += kMC) {
            const int64_t mc = std::min(kMC, M - i0);
            pack_a<MR>(transA, A, M, K, i0, mc, pc, kc, ap);
            for (int64_t jr = 0; jr < nc; jr += NR) {
              const int64_t nr = std::min<int64_t>(NR, nc - jr);
              const float* bpan = bp + (jr / NR) * NR * kc;
              for (int64_t ir = 0; ir < mc; ir += MR) {
                const int64_t mr = std::min<int64_t>(MR, mc - ir);
                float* c = Ps + (i0 + ir) * N + j0 + jr;
                if (mr == MR && nr == NR) {
                  kernel(kc, ap + ir * kc, bpan, c, N, alpha, betaEff, nullptr);
                } else {
                  kernel(kc, ap + ir * kc, bpan, tile, NR, 1.0f, 0.0f, nullptr);
                  store_tile<MR, NR>(tile, mr, nr, c, N, alpha, betaEff, nullptr);
                }
              }
            }
          }
        }
      }
    }
    // the implicit barrier above: every partial is complete
#pragma omp for schedule(static)
    for (int64_t i = 0; i < M; ++i) {
      if (outOfMemory) continue;
      float* ci = C + i * N;
      for (int64_t j = 0; j < N; ++j) {
        float v = P[i * N + j];
        for (int64_t s = 1; s < S; ++s) v += P[s * M * N + i * N + j];
        if (beta != 0.0f) v += beta * ci[j];
        if (bias) v += bias[j];
        ci[j] = v;
      }
    }
  }
  if (outOfMemory) throw std::bad_alloc();
}

using DotTileFn = void (*)(int64_t, const float* const*, const float* const*, float*);

// Small-M path for transB (B stored [N, K]): C[i, j] = alpha * dot(op(A)[i, :], B[j, :])
// + beta * C + bias. Tasks are runs of kDotCols columns; within one, each group of RB
// rows of B is held in L1 while every RA-row group of A passes over it.
template <int RA, int RB>
void gemm_dot(DotTileFn tile, bool transA, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, const float* B, float beta, float* C, const float* bias) {
  const float* Ar = A;  // op(A) row-major [M, K]
  if (transA) {         // A stored [K, M]: transpose it once (M is small)
    float* t = scratch(M * K);
    if (!t) throw std::bad_alloc();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t p = 0; p < K; ++p) t[i * K + p] = A[p * M + i];
    Ar = t;
  }
  const int64_t tasks = (N + kDotCols - 1) / kDotCols;
#pragma omp parallel
  {
    float sums[kDotMaxM * RB];
    float out[RA * RB];
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t j1 = std::min(N, (t + 1) * kDotCols);
      for (int64_t jb = t * kDotCols; jb < j1; jb += RB) {
        const int64_t nb = std::min<int64_t>(RB, j1 - jb);
        for (int64_t pc = 0; pc < K; pc += kDotKC) {
          const int64_t kc = std::min(kDotKC, K - pc);
          const float* bq[RB];
          for (int j = 0; j < RB; ++j) bq[j] = B + (jb + std::min<int64_t>(j, nb - 1)) * K + pc;
          for (int64_t i0 = 0; i0 < M; i0 += RA) {
            const int64_t ma = std::min<int64_t>(RA, M - i0);
            const float* aq[RA];  // rows past the edge repeat the last row; ignored below
            for (int i = 0; i < RA; ++i) aq[i] = Ar + (i0 + std::min<int64_t>(i, ma - 1)) * K + pc;
            tile(kc, aq, bq, out);
            for (int64_t i = 0; i < ma; ++i)
              for (int64_t j = 0; j < nb; ++j) {
                float& sum = sums[(i0 + i) * RB + j];
                sum = pc == 0 ? out[i * RB + j] : sum + out[i * RB + j];
              }
          }
        }
        for (int64_t i = 0; i < M; ++i) {
          float* ci = C + i * N + jb;
          for (int64_t j = 0; j < nb; ++j) {
            float v = alpha * sums[i * RB + j];
            if (beta != 0.0f) v += beta * ci[j];
            if (bias) v += bias[jb + j];
            ci[j] = v;
          }
        }
      }
    }
  }
}

// K == 0: the product is empty, so C = beta * C + bias.
void scale_and_bias(int64_t M, int64_t N, float beta, float* C, const float* bias) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      float v = beta != 0.0f ? beta * C[i * N + j] : 0.0f;
      if (bias) v += bias[j];
      C[i * N + j] = v;
    }
}

using detail::Isa;

}  // namespace

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t strideA, const float* B, int64_t strideB, float beta, float* C,
          int64_t strideC, int64_t batch, const float* bias) {
  const Isa isa = detail::widest_isa();
  for (int64_t b = 0; b < batch; ++b) {
    const float* Ab = A + b * strideA;
    const float* Bb = B + b * strideB;
    float* Cb = C + b * strideC;
    if (K == 0) {
      scale_and_bias(M, N, beta, Cb, bias);
      continue;
    }
    const bool dot = transB && M <= kDotMaxM && K >= kDotMinK;
    const int64_t S = split_count(M, N, K);
    switch (isa) {
#ifdef CLLM4REC_X86
      case Isa::kAvx512:
        if (dot)
          gemm_dot<4, 6>(dot_tile_avx512<4, 6>, transA, M, N, K, alpha, Ab, Bb, beta, Cb, bias);
        else if (S > 1)
          gemm_splitk<12, 32>(kernel_avx512, transA, transB, M, N, K, alpha, Ab, Bb, beta, Cb,
                              bias, S);
        else
          gemm_packed<12, 32>(kernel_avx512, stream_rows_avx512, transA, transB, M, N, K, alpha,
                              Ab, Bb, beta, Cb, bias);
        break;
      case Isa::kAvx2:
        if (dot)
          gemm_dot<3, 4>(dot_tile_avx2<3, 4>, transA, M, N, K, alpha, Ab, Bb, beta, Cb, bias);
        else if (S > 1)
          gemm_splitk<6, 16>(kernel_avx2, transA, transB, M, N, K, alpha, Ab, Bb, beta, Cb, bias,
                             S);
        else
          gemm_packed<6, 16>(kernel_avx2, stream_rows_sse, transA, transB, M, N, K, alpha, Ab, Bb,
                             beta, Cb, bias);
        break;
#endif
      default:
        if (S > 1)
          gemm_splitk<4, 8>(kernel_portable, transA, transB, M, N, K, alpha, Ab, Bb, beta, Cb,
                            bias, S);
        else
#ifdef CLLM4REC_X86
          gemm_packed<4, 8>(kernel_portable, stream_rows_sse, transA, transB, M, N, K, alpha, Ab,
                            Bb, beta, Cb, bias);
#else
          gemm_packed<4, 8>(kernel_portable, stream_rows_plain, transA, transB, M, N, K, alpha, Ab,
                            Bb, beta, Cb, bias);
#endif
    }
  }
}

// ---- BF16 GEMM on pre-packed frozen weights (CPU only; see kernels_cpu.h)
// BF16 GEMM for frozen weights: C = op(A) @ W (+ beta C, + bias) where W was packed once
// into BF16 column panels (pairs along the depth, the layout vdpbf16ps consumes) and A
// (activations, fp32) is rounded to BF16 while it is packed; products accumulate in fp32.
// Needs AVX512_BF16; the caller checks has_avx512_bf16() and keeps fp32 otherwise.
namespace {
namespace bf16gemm {  // names of the BF16 GEMM, apart from the fp32 one

constexpr int64_t kBfMC = 144;   // rows per task
constexpr int64_t kBfNChunk = 256;  // fewest columns per task

}  // namespace bf16gemm
}  // namespace

using namespace bf16;      // native/cpu/bf16.h: kBf*, pair, micro_bf16, pack_a_bf16
using namespace bf16gemm;  // its names are unique in this file

// Packed size in 32-bit words of a [K, N] matrix: panels of kBfNR columns x ceil(K/2) pairs.
int64_t bf16_packed_words(int64_t K, int64_t N) { return ((N + kBfNR - 1) / kBfNR) * kBfNR * ((K + 1) / 2); }

// dst[q][k/2][c] = (B[k][q*kBfNR+c], B[k+1][q*kBfNR+c]) as a bf16 pair; op(B) = B [K, N], or B
// stored [N, K] when transB. Zero-padded past K and N.
void bf16_pack_b(bool transB, const float* B, int64_t K, int64_t N, uint32_t* dst) {
  const int64_t panels = (N + kBfNR - 1) / kBfNR, K2 = (K + 1) / 2;
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < panels; ++q) {
    uint32_t* d = dst + q * kBfNR * K2;
    for (int64_t kk = 0; kk < K2; ++kk)
      for (int64_t c = 0; c < kBfNR; ++c) {
        const int64_t j = q * kBfNR + c, k = 2 * kk;
        auto at = [&](int64_t kx) -> float {
          if (j >= N || kx >= K) return 0.0f;
          return transB ? B[j * K + kx] : B[kx * N + j];
        };
        d[kk * kBfNR + c] = bf16::pair(at(k), at(k + 1));
      }
  }
}

// C = alpha * op(A) @ Bp + beta * C (+ bias[N]); Bp from bf16_pack_b for [K, N].
void gemm_bf16(bool transA, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               const uint32_t* Bp, float beta, float* C, const float* bias) {
#ifdef CLLM4REC_X86
  const int64_t K2 = (K + 1) / 2;
  // columns per task as in the fp32 GEMM (kNMax there: +6% here where N = 3072, level
  // elsewhere), taken column chunk first
  const int64_t icBlocks = (M + kBfMC - 1) / kBfMC;
  const int64_t chunk = task_columns(N, icBlocks, kBfNR, kBfNChunk);
  const int64_t jChunks = (N + chunk - 1) / chunk;
  // With several column chunks, A is packed (and rounded) once for all of them, into one
  // block per (row block, depth block) that every task of that row block reads; with one,
  // each task packs its own A block per depth block, which then stays in L2.
  const int64_t kBlocks = (K + kBfKC - 1) / kBfKC, blockWords = kBfMC * (kBfKC / 2);
  uint32_t* shared = nullptr;
  if (jChunks > 1) {
    shared = reinterpret_cast<uint32_t*>(scratch(icBlocks * kBlocks * blockWords));
    if (!shared) throw std::bad_alloc();
  }
  bool outOfMemory = false;
#pragma omp parallel
  {
    // the worker's packed A (the fp32 GEMM's slot: a thread runs one GEMM at a time)
    uint32_t* own = shared ? nullptr : reinterpret_cast<uint32_t*>(thread_scratch(blockWords));
    if (!shared && !own) {
#pragma omp atomic write
      outOfMemory = true;
    }
    if (shared) {
#pragma omp for schedule(static) collapse(2)
      for (int64_t ib = 0; ib < icBlocks; ++ib)
        for (int64_t pcb = 0; pcb < kBlocks; ++pcb) {
          const int64_t i0 = ib * kBfMC, pc = pcb * kBfKC;
          bf16::pack_a_bf16(transA, A, M, K, i0, std::min(kBfMC, M - i0), pc, std::min(kBfKC, K - pc),
                            shared + (ib * kBlocks + pcb) * blockWords);
        }
    }
    alignas(64) float tile[kBfMR * kBfNR];
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int64_t jb = 0; jb < jChunks; ++jb)
      for (int64_t ib = 0; ib < icBlocks; ++ib) {
        if (!shared && !own) continue;
        const int64_t i0 = ib * kBfMC, mc = std::min(kBfMC, M - i0);
        const int64_t j0 = jb * chunk, j1 = std::min(N, j0 + chunk);
        for (int64_t pc = 0; pc < K; pc += kBfKC) {
          const int64_t kc = std::min(kBfKC, K - pc), k2 = (kc + 1) / 2;
          const bool first = pc == 0;
          const uint32_t* ap = shared ? shared + (ib * kBlocks + pc / kBfKC) * blockWords : own;
          if (!shared) bf16::pack_a_bf16(transA, A, M, K, i0, mc, pc, kc, own);
          for (int64_t jr = j0; jr < j1; jr += kBfNR) {
            const int64_t nr = std::min<int64_t>(kBfNR, j1 - jr);
            const uint32_t* bpan = Bp + (jr / kBfNR) * kBfNR * K2 + (pc / 2) * kBfNR;
            const float* biasJ = first && bias ? bias + jr : nullptr;
            for (int64_t ir = 0; ir < mc; ir += kBfMR) {
              const int64_t mr = std::min<int64_t>(kBfMR, mc - ir);
              float* c = C + (i0 + ir) * N + jr;
              if (mr == kBfMR && nr == kBfNR && (!biasJ || nr == kBfNR)) {
                bf16::micro_bf16(k2, ap + ir * k2, bpan, c, N, alpha, first ? beta : 1.0f, biasJ, !first);
              } else {
                bf16::micro_bf16(k2, ap + ir * k2, bpan, tile, kBfNR, 1.0f, 0.0f, nullptr, false);
                for (int64_t i = 0; i < mr; ++i)
                  for (int64_t j = 0; j < nr; ++j) {
                    float v = alpha * tile[i * kBfNR + j];
                    float& o = c[i * N + j];
                    if (!first) v += o;
                    else {
                      if (beta != 0.0f) v += beta * o;
                      if (biasJ) v += biasJ[j];
                    }
                    o = v;
                  }
              }
            }
          }
        }
      }
  }
  if (outOfMemory) throw std::bad_alloc();
#else
  (void)transA; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)Bp; (void)beta; (void)C; (void)bias;
  throw std::runtime_error("gemm_bf16: this build has no x86 BF16 kernels");
#endif
}

// The portable twin of cuda::gemm_bf16_b (the CUDA path of frozen BF16 weights): the same
// roundings (A to BF16 nearest even, B already BF16), products exact in fp32, summed in k order.
void f32_to_bf16(const float* x, int64_t n, uint32_t* dst) {
  for (int64_t w = 0; 2 * w < n; ++w)
    dst[w] = uint32_t(to_bf16(x[2 * w])) | (2 * w + 1 < n ? uint32_t(to_bf16(x[2 * w + 1])) << 16 : 0u);
}

void gemm_bf16_b(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 const uint32_t* Bh, float beta, float* C, const float* bias) {
  const auto* B = reinterpret_cast<const uint16_t*>(Bh);
  auto value = [](uint16_t h) {
    const uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  std::vector<float> b(size_t(K) * size_t(N));  // op(B) [K, N], decoded once
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) b[size_t(k * N + n)] = value(B[transB ? n * K + k : k * N + n]);
#pragma omp parallel for schedule(static)
  for (int64_t m = 0; m < M; ++m) {
    std::vector<float> acc(size_t(N), 0.0f);
    for (int64_t k = 0; k < K; ++k) {
      const float a = value(to_bf16(transA ? A[k * M + m] : A[m * K + k]));
      const float* br = b.data() + k * N;
      for (int64_t n = 0; n < N; ++n) acc[size_t(n)] += a * br[n];
    }
    float* c = C + m * N;
    for (int64_t n = 0; n < N; ++n) {
      float v = alpha * acc[size_t(n)];
      if (beta != 0.0f) v += beta * c[n];  // beta == 0: C is not read (may hold NaN)
      if (bias) v += bias[n];
      c[n] = v;
    }
  }
}

// The fused linear -> GELU's reference: the GEMM, then gelu_forward's pass over its output
// (the same float ops per element as the unfused ops, so the same bits).
void gemm_gelu(int64_t M, int64_t N, int64_t K, const float* A, const float* B, const float* bias,
               float* pre, float* out) {
  gemm(false, false, M, N, K, 1.0f, A, 0, B, 0, 0.0f, pre, 0, 1, bias);
  gelu_forward(pre, out, M * N);
}

void gemm_bf16_b_gelu(int64_t M, int64_t N, int64_t K, const float* A, const uint32_t* Bh,
                      const float* bias, float* pre, float* out) {
  gemm_bf16_b(false, false, M, N, K, 1.0f, A, Bh, 0.0f, pre, bias);
  gelu_forward(pre, out, M * N);
}

}  // namespace cpu
