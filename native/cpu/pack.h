// AVX-512 packing shared by the GEMM, attention and the fused vocabulary head (internal to
// native/cpu): a 16 x 16 register transpose (and its 8 x 8 AVX2 twin) and the panels built on it. Packing is a copy, so these give
// the scalar packers' panels bit for bit.
#pragma once
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "simd.h"

namespace cpu {
namespace pack {

// 16 x 16 transpose in registers: on return r[j] holds column j of the 16 rows given.
// Pairs of rows interleave (unpack ps), then pairs of pairs (unpack pd), then 128-bit
// groups move twice (shuffle_f32x4): after the second step u[4g+s] holds columns s, s+4,
// s+8, s+12 of rows 4g..4g+3, one column per 128-bit group.
__attribute__((target("avx512f"))) CLLM4REC_INLINE void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    t[4 * g + 0] = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]);
    t[4 * g + 1] = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
    t[4 * g + 2] = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
    t[4 * g + 3] = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
  }
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    const __m512d lo = _mm512_castps_pd(t[4 * g]), lo2 = _mm512_castps_pd(t[4 * g + 2]);
    const __m512d hi = _mm512_castps_pd(t[4 * g + 1]), hi2 = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo, lo2));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo, lo2));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi, hi2));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi, hi2));
  }
#pragma GCC unroll 4
  for (int s = 0; s < 4; ++s) {
    // 0x88 takes groups 0 and 2 of each source, 0xdd groups 1 and 3
    const __m512 v0 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0xdd);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0x88);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0xdd);
    r[s] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[s + 8] = _mm512_shuffle_f32x4(v0, v2, 0xdd);
    r[s + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[s + 12] = _mm512_shuffle_f32x4(v1, v3, 0xdd);
  }
}

// 8 x 8 transpose in ymm registers (AVX2 twin of transpose16): on return r[j] holds column
// j of the 8 rows given. Pairs of rows interleave (unpack), pairs of pairs combine (shuffle:
// s[k] holds columns k and k + 4 of four rows, one per 128-bit half), then the halves of rows
// 0-3 and 4-7 join (permute2f128).
__attribute__((target("avx2"))) CLLM4REC_INLINE void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
#pragma GCC unroll 2
  for (int g = 0; g < 2; ++g) {
    t[4 * g + 0] = _mm256_unpacklo_ps(r[4 * g], r[4 * g + 1]);
    t[4 * g + 1] = _mm256_unpackhi_ps(r[4 * g], r[4 * g + 1]);
    t[4 * g + 2] = _mm256_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
    t[4 * g + 3] = _mm256_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
    s[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);      // columns 0, 4
    s[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xee);      // columns 1, 5
    s[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);  // columns 2, 6
    s[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xee);  // columns 3, 7
  }
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x20);
    r[k + 4] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x31);
  }
}

CLLM4REC_INLINE __mmask16 first_lanes(int64_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

// r[c] = column c of the 16 x 16 block at src (row stride lds), for c < 16: rows past `rows`
// and lanes outside `lanes` read as zero.
__attribute__((target("avx512f"))) CLLM4REC_INLINE void load_transposed16(const float* src, int64_t lds, int64_t rows,
                                                                          __mmask16 lanes, __m512 r[16]) {
#pragma GCC unroll 16
  for (int c = 0; c < 16; ++c) r[c] = c < rows ? _mm512_maskz_loadu_ps(lanes, src + c * lds) : _mm512_setzero_ps();
  transpose16(r);
}

// Up to 16 rows of src (row stride lds; rows past `rows` read as zero) transposed into depth
// steps p < kc: dst[p * Width + c] = src[c * lds + p] for c < 16. Width is the panel width
// (dst 64-byte aligned for Width = 32, any alignment for Width = 12, which stores 12 lanes).
template <int Width>
__attribute__((target("avx512f"))) CLLM4REC_INLINE void transposed_rows(const float* src, int64_t lds, int64_t rows,
                                                                        int64_t kc, float* dst) {
  static_assert(Width == 12 || Width == 32, "panels of the 12 x 32 micro-kernels");
  for (int64_t p = 0; p < kc; p += 16) {
    const int64_t n = std::min<int64_t>(16, kc - p);
    __m512 v[16];
    load_transposed16(src + p, lds, rows, first_lanes(n), v);
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      if (i >= n) break;
      if constexpr (Width == 32)
        _mm512_store_ps(dst + (p + i) * Width, v[i]);
      else
        _mm512_mask_storeu_ps(dst + (p + i) * Width, 0x0fff, v[i]);
    }
  }
}

// One 12-row panel: dst[p * 12 + r] = src[r * lds + p] for p < kc, r < mr (<= 12), zero for
// mr <= r < 12.
// (A call, not forced inline: callers without the AVX-512 target may call it after their own
// ISA check.)
__attribute__((target("avx512f"))) inline void panel12_from_rows(const float* src, int64_t lds, int64_t mr, int64_t kc,
                                                                float* dst) {
  transposed_rows<12>(src, lds, mr, kc, dst);
}

}  // namespace pack
}  // namespace cpu
#endif
