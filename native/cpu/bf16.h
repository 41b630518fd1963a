// BF16 building blocks shared by the CPU's BF16 kernels (gemm_bf16 in gemm.cc, the fused
// vocabulary head in cross_entropy.cc; internal to native/cpu): the round to nearest even,
// the pair layout vdpbf16ps reads (element 2w in the low half of word w), the 12 x 32
// register tile, and the packer of A panels.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#ifndef CLLM4REC_X86
#define CLLM4REC_X86 1
#endif
#endif
#include "pack.h"
#include "simd.h"

namespace cpu {
namespace bf16 {

constexpr int kBfMR = 12, kBfNR = 32;
constexpr int64_t kBfKC = 512;  // depth per block (a B micro-panel is 32 KiB of BF16)

// fp32 -> bf16, round to nearest even (NaN stays NaN).
CLLM4REC_INLINE uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

CLLM4REC_INLINE uint32_t pair(float lo, float hi) { return uint32_t(bf16::to_bf16(lo)) | (uint32_t(bf16::to_bf16(hi)) << 16); }

#ifdef CLLM4REC_X86
// 12 x 32 tile: 24 zmm accumulators, each vdpbf16ps does two depth steps.
__attribute__((target("avx512f,avx512bf16"), noinline)) inline void micro_bf16(
    int64_t k2, const uint32_t* a, const uint32_t* b, float* c, int64_t ldc, float alpha, float beta,
    const float* bias, bool accumulate) {
  __m512 acc0[kBfMR], acc1[kBfMR];
#pragma GCC unroll 12
  for (int i = 0; i < kBfMR; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k2; ++kk, a += kBfMR, b += kBfNR) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < kBfMR; ++i) {
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(int(a[i]));
      acc0[i] = _mm512_dpbf16_ps(acc0[i], ai, b0);
      acc1[i] = _mm512_dpbf16_ps(acc1[i], ai, b1);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int i = 0; i < kBfMR; ++i) {
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

// A rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) as kBfMR-row panels of bf16 pairs.
inline void pack_a_bf16_scalar(bool transA, const float* A, int64_t M, int64_t K, int64_t i0, int64_t mc,
                        int64_t p0, int64_t kc, uint32_t* dst) {
  const int64_t k2 = (kc + 1) / 2;
  for (int64_t ir = 0; ir < mc; ir += kBfMR, dst += kBfMR * k2)
    for (int i = 0; i < kBfMR; ++i) {
      const int64_t r = i0 + ir + i;
      for (int64_t kk = 0; kk < k2; ++kk) {
        const int64_t k = p0 + 2 * kk;
        float lo = 0.0f, hi = 0.0f;
        if (ir + i < mc) {
          lo = transA ? A[k * M + r] : A[r * K + k];
          if (k + 1 < p0 + kc) hi = transA ? A[(k + 1) * M + r] : A[r * K + k + 1];
        }
        dst[kk * kBfMR + i] = bf16::pair(lo, hi);
      }
    }
}

#ifdef CLLM4REC_X86
// 16 floats -> 8 bf16 pairs (element 2w low, 2w+1 high: memory order), rounded exactly as
// to_bf16: nearest even, a NaN quieted. Integer arithmetic, so denormals round like any other
// value (vcvtne2ps2bf16 would flush them to zero).
__attribute__((target("avx512f,avx512bw"))) CLLM4REC_INLINE __m256i pairs16(const float* x) {
  const __m512i u = _mm512_loadu_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded =
      _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  const __mmask16 nan =
      _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet));
}

// pack_a_bf16 for A stored [M, K] (the model's activations): each row's pairs are
// consecutive floats, converted 16 at a time into a row buffer, then interleaved into the
// panel layout. Falls back to the scalar packer for an odd depth block.
static_assert(kBfMR == 12, "pack::panel12_from_rows builds 12-row panels");
__attribute__((target("avx512f,avx512bw"))) inline void pack_a_bf16_rows(const float* A, int64_t K, int64_t i0,
                                                                   int64_t mc, int64_t p0, int64_t kc,
                                                                   uint32_t* dst) {
  const int64_t k2 = kc / 2, full = kc / 16 * 16;
  alignas(64) uint32_t rows[kBfMR][kBfKC / 2];
  for (int64_t ir = 0; ir < mc; ir += kBfMR, dst += kBfMR * k2) {
    const int mr = int(std::min<int64_t>(kBfMR, mc - ir));
    for (int i = 0; i < mr; ++i) {
      const float* src = A + (i0 + ir + i) * K + p0;
      int64_t k = 0;
      for (; k < full; k += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(rows[i] + k / 2), pairs16(src + k));
      for (; k < kc; k += 2) rows[i][k / 2] = bf16::pair(src[k], src[k + 1]);
    }
    // interleave by 16 x 16 transposes of the 32-bit pairs (bit moves only; rows past mr
    // become zeros): +1-3% on the GPT-2-shape BF16 GEMMs over the scalar interleave
    pack::panel12_from_rows(reinterpret_cast<const float*>(rows[0]), kBfKC / 2, mr, k2, reinterpret_cast<float*>(dst));
  }
}
#endif

inline void pack_a_bf16(bool transA, const float* A, int64_t M, int64_t K, int64_t i0, int64_t mc,
                 int64_t p0, int64_t kc, uint32_t* dst) {
#ifdef CLLM4REC_X86
  if (!transA && kc % 2 == 0) return pack_a_bf16_rows(A, K, i0, mc, p0, kc, dst);
#endif
  pack_a_bf16_scalar(transA, A, M, K, i0, mc, p0, kc, dst);
}

}  // namespace bf16
}  // namespace cpu
