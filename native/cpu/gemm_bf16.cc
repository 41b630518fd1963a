// BF16 GEMM for frozen weights: C = op(A) @ W (+ beta C, + bias) where W was packed once
// into BF16 column panels (pairs along the depth, the layout vdpbf16ps consumes) and A
// (activations, fp32) is rounded to BF16 while it is packed; products accumulate in fp32.
// Needs AVX512_BF16; the caller checks has_avx512_bf16() and keeps fp32 otherwise.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CLLM4REC_X86 1
#endif

#include "kernels.h"
#include "kernels_cpu.h"
#include "simd.h"

namespace cpu {

namespace {

constexpr int MR = 12, NR = 32;
constexpr int64_t kKC = 512;   // depth per block (a B micro-panel is 32 KiB of BF16)
constexpr int64_t kMC = 144;   // rows per task
constexpr int64_t kNChunk = 256;

template <int Slot>
uint32_t* scratch_u32(int64_t n) {
  thread_local uint32_t* buf = nullptr;
  thread_local int64_t cap = 0;
  if (n > cap) {
    std::free(buf);
    buf = static_cast<uint32_t*>(std::aligned_alloc(64, ((size_t(n) * 4) + 63) / 64 * 64));
    cap = buf ? n : 0;
  }
  return buf;
}

// fp32 -> bf16, round to nearest even (NaN stays NaN).
CLLM4REC_INLINE uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

CLLM4REC_INLINE uint32_t pair(float lo, float hi) { return uint32_t(to_bf16(lo)) | (uint32_t(to_bf16(hi)) << 16); }

}  // namespace

// Packed size in 32-bit words of a [K, N] matrix: panels of NR columns x ceil(K/2) pairs.
int64_t bf16_packed_words(int64_t K, int64_t N) { return ((N + NR - 1) / NR) * NR * ((K + 1) / 2); }

// dst[q][k/2][c] = (B[k][q*NR+c], B[k+1][q*NR+c]) as a bf16 pair; op(B) = B [K, N], or B
// stored [N, K] when transB. Zero-padded past K and N.
void bf16_pack_b(bool transB, const float* B, int64_t K, int64_t N, uint32_t* dst) {
  const int64_t panels = (N + NR - 1) / NR, K2 = (K + 1) / 2;
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < panels; ++q) {
    uint32_t* d = dst + q * NR * K2;
    for (int64_t kk = 0; kk < K2; ++kk)
      for (int64_t c = 0; c < NR; ++c) {
        const int64_t j = q * NR + c, k = 2 * kk;
        auto at = [&](int64_t kx) -> float {
          if (j >= N || kx >= K) return 0.0f;
          return transB ? B[j * K + kx] : B[kx * N + j];
        };
        d[kk * NR + c] = pair(at(k), at(k + 1));
      }
  }
}

namespace {

#ifdef CLLM4REC_X86
// 12 x 32 tile: 24 zmm accumulators, each vdpbf16ps does two depth steps.
__attribute__((target("avx512f,avx512bf16"), noinline)) void micro_bf16(
    int64_t k2, const uint32_t* a, const uint32_t* b, float* c, int64_t ldc, float alpha, float beta,
    const float* bias, bool accumulate) {
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k2; ++kk, a += MR, b += NR) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(int(a[i]));
      acc0[i] = _mm512_dpbf16_ps(acc0[i], ai, b0);
      acc1[i] = _mm512_dpbf16_ps(acc1[i], ai, b1);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_fmadd_ps(va, acc0[i], bias0), r1 = _mm512_fmadd_ps(va, acc1[i], bias1);
    if (accumulate) {  // a later depth block: add onto C (bias was added by the first)
      r0 = _mm512_fmadd_ps(va, acc0[i], _mm512_loadu_ps(ci));
      r1 = _mm512_fmadd_ps(va, acc1[i], _mm512_loadu_ps(ci + 16));
    } else if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci + 16), r1);
    }
    _mm512_storeu_ps(ci, r0);
    _mm512_storeu_ps(ci + 16, r1);
  }
}
#endif

// A rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) as MR-row panels of bf16 pairs.
void pack_a_bf16(bool transA, const float* A, int64_t M, int64_t K, int64_t i0, int64_t mc,
                 int64_t p0, int64_t kc, uint32_t* dst) {
  const int64_t k2 = (kc + 1) / 2;
  for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * k2)
    for (int i = 0; i < MR; ++i) {
      const int64_t r = i0 + ir + i;
      for (int64_t kk = 0; kk < k2; ++kk) {
        const int64_t k = p0 + 2 * kk;
        float lo = 0.0f, hi = 0.0f;
        if (ir + i < mc) {
          lo = transA ? A[k * M + r] : A[r * K + k];
          if (k + 1 < p0 + kc) hi = transA ? A[(k + 1) * M + r] : A[r * K + k + 1];
        }
        dst[kk * MR + i] = pair(lo, hi);
      }
    }
}

}  // namespace

// C = alpha * op(A) @ Bp + beta * C (+ bias[N]); Bp from bf16_pack_b for [K, N].
void gemm_bf16(bool transA, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               const uint32_t* Bp, float beta, float* C, const float* bias) {
#ifdef CLLM4REC_X86
  const int64_t K2 = (K + 1) / 2;
  const int64_t icBlocks = (M + kMC - 1) / kMC, jChunks = (N + kNChunk - 1) / kNChunk;
  bool outOfMemory = false;
#pragma omp parallel
  {
    uint32_t* ap = scratch_u32<0>(kMC * (kKC / 2));
    if (!ap) {
#pragma omp atomic write
      outOfMemory = true;
    }
    alignas(64) float tile[MR * NR];
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int64_t ib = 0; ib < icBlocks; ++ib)
      for (int64_t jb = 0; jb < jChunks; ++jb) {
        if (!ap) continue;
        const int64_t i0 = ib * kMC, mc = std::min(kMC, M - i0);
        const int64_t j0 = jb * kNChunk, j1 = std::min(N, j0 + kNChunk);
        for (int64_t pc = 0; pc < K; pc += kKC) {
          const int64_t kc = std::min(kKC, K - pc), k2 = (kc + 1) / 2;
          const bool first = pc == 0;
          pack_a_bf16(transA, A, M, K, i0, mc, pc, kc, ap);
          for (int64_t jr = j0; jr < j1; jr += NR) {
            const int64_t nr = std::min<int64_t>(NR, j1 - jr);
            const uint32_t* bpan = Bp + (jr / NR) * NR * K2 + (pc / 2) * NR;
            const float* biasJ = first && bias ? bias + jr : nullptr;
            for (int64_t ir = 0; ir < mc; ir += MR) {
              const int64_t mr = std::min<int64_t>(MR, mc - ir);
              float* c = C + (i0 + ir) * N + jr;
              if (mr == MR && nr == NR && (!biasJ || nr == NR)) {
                micro_bf16(k2, ap + ir * k2, bpan, c, N, alpha, first ? beta : 1.0f, biasJ, !first);
              } else {
                micro_bf16(k2, ap + ir * k2, bpan, tile, NR, 1.0f, 0.0f, nullptr, false);
                for (int64_t i = 0; i < mr; ++i)
                  for (int64_t j = 0; j < nr; ++j) {
                    float v = alpha * tile[i * NR + j];
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

}  // namespace cpu
