// Fused softmax + cross-entropy over C classes with masked rows (target < 0).
// The backward recomputes the probabilities from logits and the saved lse.
#include <cmath>
#include <new>
#include <stdexcept>
#include <cstring>
#include <cstdlib>
#include <algorithm>
#include <omp.h>

#include "kernels.h"
#include "kernels_cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CLLM4REC_X86 1
#endif
#include "parallel.h"
#include "bf16.h"
#include "pack.h"
#include "rowsoftmax.h"
#include "simd.h"

namespace cpu {

namespace {

CLLM4REC_INLINE void forward_impl(const float* logits, const int32_t* target, float* loss,
                                  float* lse, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r) {
    if (target[r] < 0) {
      loss[r] = 0.0f;
      lse[r] = 0.0f;
      continue;
    }
    const float* x = logits + r * C;
    const float l = detail::row_logsumexp(x, C);
    lse[r] = l;
    loss[r] = l - x[target[r]];
  }
}

CLLM4REC_INLINE void backward_impl(const float* logits, const int32_t* target, const float* lse,
                                   const float* dloss, float* dlogits, int64_t R, int64_t C,
                                   bool accumulate) {
  for (int64_t r = 0; r < R; ++r) {
    const float* x = logits + r * C;
    float* dx = dlogits + r * C;
    const int32_t t = target[r];
    if (t < 0) {
      if (!accumulate)
        for (int64_t c = 0; c < C; ++c) dx[c] = 0.0f;
      continue;
    }
    const float l = lse[r], g = dloss[r];
    // x[c] is read before dx[c] is written, so dlogits may alias logits.
    if (accumulate) {
      for (int64_t c = 0; c < C; ++c) dx[c] += g * detail::exp_approx(x[c] - l);
    } else {
      for (int64_t c = 0; c < C; ++c) dx[c] = g * detail::exp_approx(x[c] - l);
    }
    dx[t] -= g;  // the one-hot term, after the loop so in-place use stays correct
  }
}

CLLM4REC_AVX512 void forward_avx512(const float* logits, const int32_t* target, float* loss,
                                    float* lse, int64_t R, int64_t C) {
  forward_impl(logits, target, loss, lse, R, C);
}
CLLM4REC_AVX2 void forward_avx2(const float* logits, const int32_t* target, float* loss, float* lse,
                                int64_t R, int64_t C) {
  forward_impl(logits, target, loss, lse, R, C);
}
void forward_generic(const float* logits, const int32_t* target, float* loss, float* lse,
                     int64_t R, int64_t C) {
  forward_impl(logits, target, loss, lse, R, C);
}
CLLM4REC_AVX512 void backward_avx512(const float* logits, const int32_t* target,
                                     const float* lse, const float* dloss, float* dlogits,
                                     int64_t R, int64_t C, bool accumulate) {
  backward_impl(logits, target, lse, dloss, dlogits, R, C, accumulate);
}
CLLM4REC_AVX2 void backward_avx2(const float* logits, const int32_t* target, const float* lse,
                                 const float* dloss, float* dlogits, int64_t R, int64_t C, bool accumulate) {
  backward_impl(logits, target, lse, dloss, dlogits, R, C, accumulate);
}
void backward_generic(const float* logits, const int32_t* target, const float* lse,
                      const float* dloss, float* dlogits, int64_t R, int64_t C, bool accumulate) {
  backward_impl(logits, target, lse, dloss, dlogits, R, C, accumulate);
}

}  // namespace

// OpenMP stays out of the ISA clones (outlined parallel bodies lose the target
// attribute): rows are shared out here and each row runs the vectorised clone.
void cross_entropy_forward(const float* logits, const int32_t* target, float* loss, float* lse,
                          int64_t R, int64_t C) {
  const auto row = detail::pick(forward_avx512, forward_avx2, forward_generic);
#pragma omp parallel for schedule(dynamic, 1) if (R * C >= detail::kParallelGrain)
  for (int64_t r = 0; r < R; ++r) row(logits + r * C, target + r, loss + r, lse + r, 1, C);
}

void cross_entropy_backward(const float* logits, const int32_t* target, const float* lse,
                           const float* dloss, float* dlogits, int64_t R, int64_t C,
                           bool accumulate) {
  const auto row = detail::pick(backward_avx512, backward_avx2, backward_generic);
#pragma omp parallel for schedule(dynamic, 1) if (R * C >= detail::kParallelGrain)
  for (int64_t r = 0; r < R; ++r) row(logits + r * C, target + r, lse + r, dloss + r, dlogits + r * C, 1, C, accumulate);
}

// ---- the fused vocabulary head (CPU only; see kernels_cpu.h)
// Fused vocabulary head + softmax cross-entropy (the C-step's loss): logits = h W^T over
// C classes, loss[r] = logsumexp(logits[r]) - logits[r, target[r]], and optionally the
// unit input gradient dh[r] = softmax(logits[r]) W - W[target[r]], in one pass over W.
// An online softmax (running max and sum; the gradient accumulator is rescaled when the
// max grows, as in flash attention) means the logits are never stored and the backward
// needs no recompute: two GEMM-sized products instead of the chunked path's three.
// Each task owns a block of rows and a range of the vocabulary; its logits tile stays in
// L2 between the two products. Ranges are merged per row in a fixed order, and the
// blocking depends on the shape only, so results do not depend on the thread count.
namespace {
namespace head {  // names of the fused head, apart from the rest of the family

constexpr int MR = 12, NR = 32;  // register tile (12 x 32 = 24 zmm accumulators)
constexpr int64_t kNC = 256;     // vocabulary columns per logits tile
constexpr int64_t kKC = 256;     // depth block of the logits product
constexpr int64_t kMinTasks = 8; // vocabulary splits are added until there are this many tasks

// Grow-only, 64-byte aligned scratch owned by the calling thread, one per Slot.
template <int Slot>
float* scratch(int64_t floats) {
  thread_local float* buf = nullptr;
  thread_local int64_t cap = 0;
  if (floats > cap) {
    std::free(buf);
    buf = static_cast<float*>(std::aligned_alloc(64, ((size_t(floats) * 4) + 63) / 64 * 64));
    cap = buf ? floats : 0;  // the caller checks: no exception may leave an OpenMP region
  }
  return buf;
}

// Rows per block: the packed rows and the gradient accumulator together stay near 256 KiB.
int64_t row_block(int64_t d) { return std::clamp<int64_t>((32768 / d) / MR * MR, MR, 144); }

struct Plan {
  int64_t rb, rowBlocks, splits, splitCols;
};

Plan plan(int64_t n, int64_t C, int64_t d) {
  Plan p;
  p.rb = row_block(d);
  p.rowBlocks = (n + p.rb - 1) / p.rb;
  // the same number of blocks, of equal size (to a multiple of MR): a short last block
  // streams all of W for few rows (at n = 600, d = 128 it had 24 rows; equal blocks took
  // 13.5% off the head's time). Each row's sums do not depend on its block.
  p.rb = std::min(p.rb, ((n + p.rowBlocks - 1) / p.rowBlocks + MR - 1) / MR * MR);
  const int64_t chunks = (C + kNC - 1) / kNC;
  p.splits = 1;
  if (p.rowBlocks < kMinTasks)
    p.splits = std::clamp<int64_t>((kMinTasks + p.rowBlocks - 1) / p.rowBlocks, 1, std::max<int64_t>(1, chunks / 16));
  p.splitCols = (chunks + p.splits - 1) / p.splits * kNC;
  p.splits = (C + p.splitCols - 1) / p.splitCols;
  return p;
}

using detail::Isa;

// c[MR x NR] (+)= a (MR-row packed panel, depth kc) @ b (kc rows of NR floats, row stride ldb).
template <Isa I>
void micro(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                           int64_t ldc, bool accumulate);

template <>
void micro<Isa::kGeneric>(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                                  int64_t ldc, bool accumulate) {
  float acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p, a += MR, b += ldb)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#ifdef CLLM4REC_X86
template <>  // a call per tile, not inlined: it carries its own target ISA
__attribute__((target("avx512f,fma"), noinline)) void micro<Isa::kAvx512>(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                                 int64_t ldc, bool accumulate) {
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p, a += MR, b += ldb) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    if (accumulate) {
      acc0[i] = _mm512_add_ps(acc0[i], _mm512_loadu_ps(ci));
      acc1[i] = _mm512_add_ps(acc1[i], _mm512_loadu_ps(ci + 16));
    }
    _mm512_storeu_ps(ci, acc0[i]);
    _mm512_storeu_ps(ci + 16, acc1[i]);
  }
}

// AVX2 has 16 ymm registers, too few for the 12 x 32 tile: it runs as four 6 x 16 quarters
// (12 accumulators each), each over the whole depth, so every element sums in the same order.
template <>
__attribute__((target("avx2,fma"), noinline)) void micro<Isa::kAvx2>(int64_t kc, const float* a, const float* b,
                                                                    int64_t ldb, float* c, int64_t ldc,
                                                                    bool accumulate) {
  constexpr int QR = MR / 2;
  for (int i0 = 0; i0 < MR; i0 += QR)
    for (int j0 = 0; j0 < NR; j0 += 16) {
      __m256 acc0[QR], acc1[QR];
#pragma GCC unroll 6
      for (int i = 0; i < QR; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();
      const float* ap = a + i0;
      const float* bp = b + j0;
      for (int64_t p = 0; p < kc; ++p, ap += MR, bp += ldb) {
        const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
        for (int i = 0; i < QR; ++i) {
          const __m256 ai = _mm256_broadcast_ss(ap + i);
          acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
          acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
        }
      }
#pragma GCC unroll 6
      for (int i = 0; i < QR; ++i) {
        float* ci = c + (i0 + i) * ldc + j0;
        if (accumulate) {
          acc0[i] = _mm256_add_ps(acc0[i], _mm256_loadu_ps(ci));
          acc1[i] = _mm256_add_ps(acc1[i], _mm256_loadu_ps(ci + 8));
        }
        _mm256_storeu_ps(ci, acc0[i]);
        _mm256_storeu_ps(ci + 8, acc1[i]);
      }
    }
}
#endif

// Wt[q][p][c] = W[q*NR + c, p]: W^T in NR-column panels over the whole depth, zero-padded.
void pack_wt(const float* W, int64_t C, int64_t d, float* Wt) {
  const int64_t panels = (C + NR - 1) / NR;
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < panels; ++q) {
    float* dst = Wt + q * NR * d;
    for (int64_t c = 0; c < NR; ++c) {
      const int64_t j = q * NR + c;
      if (j < C) {
        const float* src = W + j * d;
        for (int64_t p = 0; p < d; ++p) dst[p * NR + c] = src[p];
      } else {
        for (int64_t p = 0; p < d; ++p) dst[p * NR + c] = 0.0f;
      }
    }
  }
}

struct Partial {
  float* m;     // [splits, n] running max
  double* s;    // [splits, n] sum of exp(logit - m)
  float* tl;    // [splits, n] the target's logit when this split holds it, else NaN
  float* acc;   // [splits, n, d] sum of exp(logit - m) * W row (null without dh)
};

// A task's partial state before its first tile: no max, no sum, no target logit, acc zero.
CLLM4REC_INLINE void start_partial(int64_t rows, int64_t rbPad, int64_t d, float* m, double* s, float* tl,
                                   float* acc) {
  for (int64_t i = 0; i < rows; ++i) {
    m[i] = -INFINITY;
    s[i] = 0.0;
    tl[i] = NAN;
  }
  if (acc) std::memset(acc, 0, size_t(rbPad * d) * sizeof(float));
}

// Online softmax over a logits tile's valid columns [j0, j0 + nv): S (row stride kNC) becomes
// exp(logit - m); the running max m, sum s and the gradient accumulator acc (rescaled when the
// max grows; null without dh) and the target's logit tl are updated per row.
CLLM4REC_INLINE void online_softmax(float* S, int64_t rbPad, int64_t rows, int64_t r0, const int32_t* target,
                                    int64_t j0, int64_t nv, float* m, double* s, float* tl, float* acc, int64_t d) {
  for (int64_t i = 0; i < rbPad; ++i) {
    float* x = S + i * kNC;
    const int64_t r = r0 + i;
    if (i >= rows || target[r] < 0) {  // padding and masked rows add nothing
      if (acc) std::memset(x, 0, size_t(nv) * sizeof(float));
      continue;
    }
    const int32_t t = target[r];
    if (t >= j0 && t < j0 + nv) tl[i] = x[t - j0];
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int64_t c = 0; c < nv; ++c) mx = x[c] > mx ? x[c] : mx;
    if (mx > m[i]) {
      const float scale = detail::exp_approx(m[i] - mx);  // 0 on the first tile
      s[i] *= scale;
      if (acc) {
        float* ai = acc + i * d;
#pragma omp simd
        for (int64_t p = 0; p < d; ++p) ai[p] *= scale;
      }
      m[i] = mx;
    }
    const float mi = m[i];
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < nv; ++c) {
      const float e = detail::exp_approx(x[c] - mi);
      x[c] = e;
      sum += e;
    }
    s[i] += sum;
  }
}

// One task: rows [r0, r0 + rows) over vocabulary [c0, c1). Scratch: hp (packed rows),
// S (logits tile, then probabilities), pp (probabilities packed for the second product).
template <Isa I>
CLLM4REC_INLINE void task(const float* h, const float* W, const float* Wt, const int32_t* target, int64_t n,
          int64_t C, int64_t d, int64_t r0, int64_t rows, int64_t c0, int64_t c1, int64_t rbPad,
          float* hp, float* S, float* pp, float* acc, float* m, double* s, float* tl,
          float* accOut) {
  const int64_t panels = rbPad / MR;
  // pack the rows once: depth block pc, panel ir at hp + pc * rbPad + ir * MR * kc
  for (int64_t pc = 0; pc < d; pc += kKC) {
    const int64_t kc = std::min(kKC, d - pc);
    for (int64_t ir = 0; ir < panels; ++ir) {
      float* dst = hp + pc * rbPad + ir * MR * kc;
#ifdef CLLM4REC_X86
      if constexpr (I == Isa::kAvx512) {
        const int64_t mr = std::clamp<int64_t>(rows - ir * MR, 0, MR);  // panels past the rows: zeros
        pack::panel12_from_rows(mr > 0 ? h + (r0 + ir * MR) * d + pc : h, d, mr, kc, dst);
        continue;
      }
#endif
      for (int i = 0; i < MR; ++i) {
        const int64_t r = ir * MR + i;
        if (r < rows) {
          const float* src = h + (r0 + r) * d + pc;
          for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = src[p];
        } else {
          for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = 0.0f;
        }
      }
    }
  }
  start_partial(rows, rbPad, d, m, s, tl, acc);
  alignas(64) float edge[MR * NR];
  for (int64_t j0 = c0; j0 < c1; j0 += kNC) {
    const int64_t nv = std::min(kNC, c1 - j0);  // valid columns of this tile
    const int64_t nPan = (nv + NR - 1) / NR;
    // 1. logits tile S[rbPad x kNC] = rows @ W[j0 .. j0+nv)^T
    for (int64_t q = 0; q < nPan; ++q) {
      const float* bq = Wt + (j0 / NR + q) * NR * d;
      for (int64_t pc = 0; pc < d; pc += kKC) {
        const int64_t kc = std::min(kKC, d - pc);
        for (int64_t ir = 0; ir < panels; ++ir)
          micro<I>(kc, hp + pc * rbPad + ir * MR * kc, bq + pc * NR, NR, S + ir * MR * kNC + q * NR, kNC, pc > 0);
      }
    }
    // 2. online softmax over the tile's valid columns; S becomes exp(logit - m)
    online_softmax(S, rbPad, rows, r0, target, j0, nv, m, s, tl, acc, d);
    if (!acc) continue;
    // 3. acc[rbPad x d] += P[rbPad x nv] @ W[j0 .. j0+nv, :]
    // (on AVX-512 by 16 x 16 transposes; with the rows above, -3% of the fused head's time)
    for (int64_t ir = 0; ir < panels; ++ir) {
      float* dst = pp + ir * MR * nv;
#ifdef CLLM4REC_X86
      if constexpr (I == Isa::kAvx512) {
        pack::panel12_from_rows(S + ir * MR * kNC, kNC, MR, nv, dst);
        continue;
      }
#endif
      for (int64_t p = 0; p < nv; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = S[(ir * MR + i) * kNC + p];
    }
    for (int64_t cc = 0; cc < d; cc += NR) {
      const int64_t nr = std::min<int64_t>(NR, d - cc);
      if (nr == NR) {
        for (int64_t ir = 0; ir < panels; ++ir)
          micro<I>(nv, pp + ir * MR * nv, W + j0 * d + cc, d, acc + ir * MR * d + cc, d, true);
      } else {  // a last strip narrower than NR: zero-padded copy of the W strip (B) into S's tail
        float* strip = pp + panels * MR * nv;
        for (int64_t p = 0; p < nv; ++p)
          for (int64_t c = 0; c < NR; ++c) strip[p * NR + c] = c < nr ? W[(j0 + p) * d + cc + c] : 0.0f;
        for (int64_t ir = 0; ir < panels; ++ir) {
          micro<I>(nv, pp + ir * MR * nv, strip, NR, edge, NR, false);
          for (int i = 0; i < MR; ++i)
            for (int64_t c = 0; c < nr; ++c) acc[(ir * MR + i) * d + cc + c] += edge[i * NR + c];
        }
      }
    }
  }
  if (acc) std::memcpy(accOut, acc, size_t(rows * d) * sizeof(float));
}

#ifdef CLLM4REC_X86
__attribute__((target("avx512f,fma"))) void task_avx512(
    const float* h, const float* W, const float* Wt, const int32_t* target, int64_t n, int64_t C,
    int64_t d, int64_t r0, int64_t rows, int64_t c0, int64_t c1, int64_t rbPad, float* hp, float* S,
    float* pp, float* acc, float* m, double* s, float* tl, float* accOut) {
  task<Isa::kAvx512>(h, W, Wt, target, n, C, d, r0, rows, c0, c1, rbPad, hp, S, pp, acc, m, s, tl, accOut);
}
__attribute__((target("avx2,fma"))) void task_avx2(
    const float* h, const float* W, const float* Wt, const int32_t* target, int64_t n, int64_t C,
    int64_t d, int64_t r0, int64_t rows, int64_t c0, int64_t c1, int64_t rbPad, float* hp, float* S,
    float* pp, float* acc, float* m, double* s, float* tl, float* accOut) {
  task<Isa::kAvx2>(h, W, Wt, target, n, C, d, r0, rows, c0, c1, rbPad, hp, S, pp, acc, m, s, tl, accOut);
}
#endif
void task_generic(const float* h, const float* W, const float* Wt, const int32_t* target, int64_t n,
                  int64_t C, int64_t d, int64_t r0, int64_t rows, int64_t c0, int64_t c1,
                  int64_t rbPad, float* hp, float* S, float* pp, float* acc, float* m, double* s,
                  float* tl, float* accOut) {
  task<Isa::kGeneric>(h, W, Wt, target, n, C, d, r0, rows, c0, c1, rbPad, hp, S, pp, acc, m, s, tl, accOut);
}

#ifdef CLLM4REC_X86
// The BF16 twin of task(): both products on vdpbf16ps with fp32 accumulation. The rows h and
// the probabilities are rounded to BF16 as they are packed; W comes pre-packed twice (frozen
// weights, packed once): Wtb = bf16_pack_b(transB, W, d, C) for the logits (pairs along d,
// panels of vocabulary columns) and Wrb = bf16_pack_b(!transB, W, C, d) for the gradient
// (pairs along the vocabulary, panels of d). The online softmax is task()'s, in fp32.
__attribute__((target("avx512f,avx512bw,avx512bf16,fma"))) void task_bf16(
    const float* h, const uint32_t* Wtb, const uint32_t* Wrb, const int32_t* target, int64_t C, int64_t d,
    int64_t r0, int64_t rows, int64_t c0, int64_t c1, int64_t rbPad, uint32_t* hp, float* S, uint32_t* pp,
    float* acc, float* m, double* s, float* tl, float* accOut) {
  using namespace bf16;
  // only the panels that hold rows (task() also multiplies the zero padding up to rbPad)
  const int64_t panels = (rows + MR - 1) / MR, D2 = (d + 1) / 2, C2 = (C + 1) / 2;
  // the rows once, depth block pc (kBfKC deep) at hp + (pc / 2) * rbPad
  for (int64_t pc = 0; pc < d; pc += kBfKC)
    pack_a_bf16(false, h + r0 * d, rows, d, 0, rows, pc, std::min(kBfKC, d - pc), hp + (pc / 2) * rbPad);
  start_partial(rows, rbPad, d, m, s, tl, acc);
  alignas(64) float edge[MR * NR];
  for (int64_t j0 = c0; j0 < c1; j0 += kNC) {
    const int64_t nv = std::min(kNC, c1 - j0), nPan = (nv + NR - 1) / NR;
    // 1. logits tile S[rbPad x kNC] = rows @ W[j0 .. j0+nv)^T
    for (int64_t q = 0; q < nPan; ++q) {
      const uint32_t* bq = Wtb + (j0 / NR + q) * NR * D2;
      for (int64_t pc = 0; pc < d; pc += kBfKC) {
        const int64_t k2 = (std::min(kBfKC, d - pc) + 1) / 2;
        for (int64_t ir = 0; ir < panels; ++ir)
          micro_bf16(k2, hp + (pc / 2) * rbPad + ir * MR * k2, bq + (pc / 2) * NR, S + ir * MR * kNC + q * NR, kNC,
                     1.0f, 0.0f, nullptr, pc > 0);
      }
    }
    // 2. online softmax over the tile's valid columns; S becomes exp(logit - m)
    online_softmax(S, rbPad, rows, r0, target, j0, nv, m, s, tl, acc, d);
    if (!acc) continue;
    // 3. acc[rbPad x d] += P[rbPad x nv] @ W[j0 .. j0+nv, :], P rounded to BF16 pairs along the vocabulary
    const int64_t v2 = (nv + 1) / 2;
    pack_a_bf16(false, S, panels * MR, kNC, 0, panels * MR, 0, nv, pp);
    for (int64_t cc = 0; cc < d; cc += NR) {
      const int64_t nr = std::min<int64_t>(NR, d - cc);
      const uint32_t* bq = Wrb + (cc / NR) * NR * C2 + (j0 / 2) * NR;
      for (int64_t ir = 0; ir < panels; ++ir) {
        if (nr == NR) {
          micro_bf16(v2, pp + ir * MR * v2, bq, acc + ir * MR * d + cc, d, 1.0f, 1.0f, nullptr, true);
        } else {  // a last strip narrower than NR (the packed panel is zero-padded)
          micro_bf16(v2, pp + ir * MR * v2, bq, edge, NR, 1.0f, 0.0f, nullptr, false);
          for (int i = 0; i < MR; ++i)
            for (int64_t c = 0; c < nr; ++c) acc[(ir * MR + i) * d + cc + c] += edge[i * NR + c];
        }
      }
    }
  }
  if (acc) std::memcpy(accOut, acc, size_t(rows * d) * sizeof(float));
}
#endif

}  // namespace head
}  // namespace

using namespace head;  // no name of the fused head is used elsewhere in this file

namespace {
namespace head {

// Runs every (row block, vocabulary split) task in parallel, then merges the splits of each
// row in split order: loss, lse and dh (dh[r] = sum of each split's acc, rescaled to the
// common max, over the sum of exps, minus W[target]). task(r0, rows, c0, c1, m, s, tl, acc)
// fills one task's partial state and returns false when its scratch could not be allocated.
template <typename Task>
void run_head(const float* W, const int32_t* target, float* loss, float* lse, float* dh, int64_t n,
              int64_t C, int64_t d, const Plan& pl, Task task) {
  // partial state per (split, row): m, tl, s (double, two floats), acc
  const int64_t accFloats = dh ? pl.splits * n * d : 0;
  float* part = scratch<1>(pl.splits * n * 4 + accFloats);
  if (!part) throw std::bad_alloc();
  Partial P{part, reinterpret_cast<double*>(part + pl.splits * n * 2), part + pl.splits * n,
            dh ? part + pl.splits * n * 4 : nullptr};
  bool outOfMemory = false;
  const int64_t tasks = pl.rowBlocks * pl.splits;
#pragma omp parallel
  {
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t b = t / pl.splits, sp = t % pl.splits;
      const int64_t r0 = b * pl.rb, rows = std::min(pl.rb, n - r0);
      const int64_t c0 = sp * pl.splitCols, c1 = std::min(C, c0 + pl.splitCols);
      const int64_t o = sp * n + r0;
      if (!task(r0, rows, c0, c1, P.m + o, P.s + o, P.tl + o, P.acc ? P.acc + o * d : nullptr)) {
#pragma omp atomic write
        outOfMemory = true;
      }
    }
    // the implicit barrier: every partial is complete; merge the splits row by row
#pragma omp for schedule(static)
    for (int64_t r = 0; r < n; ++r) {
      if (outOfMemory) continue;
      const int32_t t = target[r];
      if (t < 0) {
        loss[r] = 0.0f;
        lse[r] = 0.0f;
        if (dh) std::memset(dh + r * d, 0, size_t(d) * sizeof(float));
        continue;
      }
      float M = -INFINITY, tlog = NAN;
      for (int64_t sp = 0; sp < pl.splits; ++sp) {
        M = std::max(M, P.m[sp * n + r]);
        if (!std::isnan(P.tl[sp * n + r])) tlog = P.tl[sp * n + r];
      }
      double sum = 0.0;
      for (int64_t sp = 0; sp < pl.splits; ++sp) sum += P.s[sp * n + r] * std::exp(double(P.m[sp * n + r]) - M);
      const float l = float(double(M) + std::log(sum));
      lse[r] = l;
      loss[r] = l - tlog;
      if (!dh) continue;
      float* out = dh + r * d;
      const float* wt = W + int64_t(t) * d;
      for (int64_t p = 0; p < d; ++p) out[p] = -wt[p];
      for (int64_t sp = 0; sp < pl.splits; ++sp) {
        const float w = float(std::exp(double(P.m[sp * n + r]) - M) / sum);
        const float* a = P.acc + (sp * n + r) * d;
        for (int64_t p = 0; p < d; ++p) out[p] += w * a[p];
      }
    }
  }
  if (outOfMemory) throw std::bad_alloc();
}

}  // namespace head
}  // namespace

void linear_xent_forward(const float* h, const float* W, const int32_t* target, float* loss,
                         float* lse, float* dh, int64_t n, int64_t C, int64_t d) {
  if (n == 0) return;
  const Plan pl = plan(n, C, d);
  const int64_t rbPad = (pl.rb + MR - 1) / MR * MR;
  float* Wt = scratch<0>(((C + NR - 1) / NR) * NR * d);
  if (!Wt) throw std::bad_alloc();
  pack_wt(W, C, d, Wt);
#ifdef CLLM4REC_X86
  const auto run = detail::pick(task_avx512, task_avx2, task_generic);
#else
  const auto run = task_generic;
#endif
  run_head(W, target, loss, lse, dh, n, C, d, pl,
           [&](int64_t r0, int64_t rows, int64_t c0, int64_t c1, float* m, double* s, float* tl, float* accOut) {
             float* hp = scratch<2>(rbPad * d);
             float* S = scratch<3>(rbPad * kNC);
             float* pp = scratch<4>(rbPad * kNC + kNC * NR);
             float* acc = dh ? scratch<5>(rbPad * d) : nullptr;
             if (!hp || !S || !pp || (dh && !acc)) return false;
             run(h, W, Wt, target, n, C, d, r0, rows, c0, c1, rbPad, hp, S, pp, acc, m, s, tl, accOut);
             return true;
           });
}

void linear_xent_bf16_forward(const float* h, const float* W, const uint32_t* Wtb, const uint32_t* Wrb,
                              const int32_t* target, float* loss, float* lse, float* dh, int64_t n, int64_t C,
                              int64_t d) {
  if (n == 0) return;
#ifdef CLLM4REC_X86
  const Plan pl = plan(n, C, d);
  const int64_t rbPad = (pl.rb + MR - 1) / MR * MR;
  run_head(W, target, loss, lse, dh, n, C, d, pl,
           [&](int64_t r0, int64_t rows, int64_t c0, int64_t c1, float* m, double* s, float* tl, float* accOut) {
             auto* hp = reinterpret_cast<uint32_t*>(scratch<2>(rbPad * ((d + 1) / 2)));
             float* S = scratch<3>(rbPad * kNC);
             auto* pp = reinterpret_cast<uint32_t*>(scratch<4>(rbPad * kNC / 2));
             float* acc = dh ? scratch<5>(rbPad * d) : nullptr;
             if (!hp || !S || !pp || (dh && !acc)) return false;
             task_bf16(h, Wtb, Wrb, target, C, d, r0, rows, c0, c1, rbPad, hp, S, pp, acc, m, s, tl, accOut);
             return true;
           });
#else
  (void)h; (void)W; (void)Wtb; (void)Wrb; (void)target; (void)loss; (void)lse; (void)dh; (void)C; (void)d;
  throw std::runtime_error("linear_xent_bf16_forward: this build has no x86 BF16 kernels");
#endif
}

}  // namespace cpu
