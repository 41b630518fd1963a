// Causal multi-head attention with a key-padding mask and a key prefix (Tk >= Tq).
// Forward saves the log-sum-exp per query; backward recomputes the probabilities
// from it. Parallel over (batch, head): each pair owns disjoint rows/columns of
// out, dq, dk and dv, so the backward needs no atomics. Per head, k (and v for the
// backward) are packed transposed [Dh, Tk] (padded) so that the scores of one query against
// all keys are a vectorised loop over keys rather than one dot product per key.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "pack.h"
#include "philox.h"
#include "simd.h"

// The 64-byte vector helpers are always inlined, so no vector crosses a call boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace cpu {

namespace {

// Last key position query i may see, or -1 when its own position is masked.
CLLM4REC_INLINE int64_t last_key(const int32_t* mask, int64_t Tq, int64_t Tk, int64_t i) {
  const int64_t p = Tk - Tq + i;
  return (mask && mask[p] == 0) ? -1 : p;
}

// The per-head code is compiled three times (see the end of the file). Its register tiles
// are GCC vectors of W floats: W = 16 in the AVX-512 clone (one zmm register) and in the
// baseline one (four xmm), W = 8 in the AVX2 clone (one ymm), whose tiles hold fewer
// vectors so that they fit its 16 registers (the W = 16 tiles spilled there: attention ran
// at 3.6-4.7 GFLOP/s on a 2-core Zen 3, 38% of a GPT-2 step). Each output element is summed
// in the same order in every clone.
using detail::Isa;

template <Isa I>
constexpr int kWidth = I == Isa::kAvx2 ? 8 : 16;

template <int W>
struct VecOf {
  typedef float type __attribute__((vector_size(4 * W)));
};
template <int W>
using Vec = typename VecOf<W>::type;

template <int W>
CLLM4REC_INLINE Vec<W> loadv(const float* p) {
  Vec<W> v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
template <int W>
CLLM4REC_INLINE void storev(float* p, Vec<W> v) {
  __builtin_memcpy(p, &v, sizeof v);
}

// Keys per register-resident chunk of scores (8 vectors: enough independent FMA chains
// to hide their latency); packed rows are padded to a multiple.
constexpr int64_t kKeyChunk = 128;

CLLM4REC_INLINE int64_t padded_keys(int64_t Tk) { return (Tk + kKeyChunk - 1) / kKeyChunk * kKeyChunk; }

// dst[c * ldt + j] = src[j * ld + c] for j < n, c < Dh: one head's keys or values,
// transposed; the padding columns j >= n stay zero.
CLLM4REC_INLINE void pack_transposed_scalar(const float* src, int64_t ld, int64_t n, int64_t Dh,
                                            int64_t ldt, float* dst) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < Dh; ++c) dst[c * ldt + j] = src[j * ld + c];
}

#if defined(__x86_64__) || defined(__i386__)
// The same copy by 16 x 16 register transposes (16 keys x 16 channels at a time; masked
// loads and stores at the edges write exactly the elements the scalar loop writes). At
// GPT-2 small's 20 x 128 tokens it takes 10% off the backward (two packs) and 3% off the
// forward (one), in 11 alternating same-process rounds.
__attribute__((target("avx512f"))) void pack_transposed_avx512(const float* src, int64_t ld, int64_t n, int64_t Dh,
                                                              int64_t ldt, float* dst) {
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int64_t rows = std::min<int64_t>(16, n - j0);
    const __mmask16 keys = pack::first_lanes(rows);
    for (int64_t c0 = 0; c0 < Dh; c0 += 16) {
      const int64_t cols = std::min<int64_t>(16, Dh - c0);
      __m512 r[16];
      pack::load_transposed16(src + j0 * ld + c0, ld, rows, pack::first_lanes(cols), r);
      for (int64_t c = 0; c < cols; ++c) _mm512_mask_storeu_ps(dst + (c0 + c) * ldt + j0, keys, r[c]);
    }
  }
}

// The AVX2 twin: 8 keys x 8 channels per register transpose, the edges (keys past the last
// multiple of 8, then channels past it) by the scalar loop's assignments.
__attribute__((target("avx2"))) void pack_transposed_avx2(const float* src, int64_t ld, int64_t n, int64_t Dh,
                                                          int64_t ldt, float* dst) {
  const int64_t n8 = n / 8 * 8, d8 = Dh / 8 * 8;
  for (int64_t j0 = 0; j0 < n8; j0 += 8)
    for (int64_t c0 = 0; c0 < d8; c0 += 8) {
      __m256 r[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(src + (j0 + j) * ld + c0);
      pack::transpose8(r);
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) _mm256_storeu_ps(dst + (c0 + c) * ldt + j0, r[c]);
    }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = j < n8 ? d8 : 0; c < Dh; ++c) dst[c * ldt + j] = src[j * ld + c];
}
#endif

template <Isa I>
CLLM4REC_INLINE void pack_transposed(const float* src, int64_t ld, int64_t n, int64_t Dh, int64_t ldt,
                                     float* dst) {
#if defined(__x86_64__) || defined(__i386__)
  if constexpr (I == Isa::kAvx512) return pack_transposed_avx512(src, ld, n, Dh, ldt, dst);
  if constexpr (I == Isa::kAvx2) return pack_transposed_avx2(src, ld, n, Dh, ldt, dst);
#endif
  pack_transposed_scalar(src, ld, n, Dh, ldt, dst);
}

// out[j] = wscale * sum_c w[c] * mt[c * ldt + j] for j < n. Each chunk of keys (8 vectors)
// stays in registers for the whole sum over c (reads up to the zero padding, never past ldt).
template <int W>
CLLM4REC_INLINE void project(const float* w, float wscale, const float* mt, int64_t ldt,
                             int64_t n, int64_t Dh, float* out) {
  constexpr int kVecs = 8;
  constexpr int64_t kChunk = kVecs * W;  // divides kKeyChunk
  for (int64_t j0 = 0; j0 < n; j0 += kChunk) {
    Vec<W> acc[kVecs] = {};
    for (int64_t c = 0; c < Dh; ++c) {
      const float wc = w[c] * wscale;
      const float* row = mt + c * ldt + j0;
#pragma GCC unroll 8
      for (int u = 0; u < kVecs; ++u) acc[u] += wc * loadv<W>(row + W * u);
    }
    const int64_t m = std::min(kChunk, n - j0);
    if (m == kChunk) {
#pragma GCC unroll 8
      for (int u = 0; u < kVecs; ++u) storev<W>(out + j0 + W * u, acc[u]);
    } else {
      float tmp[kChunk];
#pragma GCC unroll 8
      for (int u = 0; u < kVecs; ++u) storev<W>(tmp + W * u, acc[u]);
      for (int64_t l = 0; l < m; ++l) out[j0 + l] = tmp[l];
    }
  }
}

// Queries whose scores are computed together: each packed key vector loaded from L2
// serves four queries.
constexpr int64_t kQueryGroup = 4;

// For g < kQueryGroup: out[g * ldo + j] = wscale * sum_c w[g * ldw + c] * mt[c * ldt + j]
// for j < n; a register tile is kQueryGroup queries x KV vectors of keys: 4 x 4 zmm
// (64 keys), or 4 x 2 ymm (16 keys) in the AVX2 clone.
template <int W>
CLLM4REC_INLINE void project_group(const float* w, int64_t ldw, float wscale, const float* mt,
                                   int64_t ldt, int64_t n, int64_t Dh, float* out,
                                   int64_t ldo) {
  constexpr int KV = W == 16 ? 4 : 2;
  constexpr int64_t kTile = KV * W;  // divides kKeyChunk
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    Vec<W> acc[kQueryGroup][KV] = {};
    for (int64_t c = 0; c < Dh; ++c) {
      const float* row = mt + c * ldt + j0;
      Vec<W> kv[KV];
#pragma GCC unroll 4
      for (int u = 0; u < KV; ++u) kv[u] = loadv<W>(row + W * u);
#pragma GCC unroll 4
      for (int g = 0; g < kQueryGroup; ++g) {
        const float wc = w[g * ldw + c] * wscale;
#pragma GCC unroll 4
        for (int u = 0; u < KV; ++u) acc[g][u] += wc * kv[u];
      }
    }
    const int64_t m = std::min(kTile, n - j0);
    for (int g = 0; g < kQueryGroup; ++g) {
      float tmp[kTile];
      for (int u = 0; u < KV; ++u) storev<W>(tmp + W * u, acc[g][u]);
      for (int64_t l = 0; l < m; ++l) out[g * ldo + j0 + l] = tmp[l];
    }
  }
}

// o[c] (+)= sum_j e[j * es] * v_j[c] for j < 4W channels c (rows of v at stride ld), in
// registers: two rows per step for independent FMA chains (even rows in a, odd in b).
template <int W>
CLLM4REC_INLINE void weighted_rows4(const float* e, int64_t es, const float* v, int64_t ld,
                                    int64_t n, float* o, bool accumulate) {
  Vec<W> a[4] = {}, b[4] = {};
  int64_t j = 0;
  for (; j + 2 <= n; j += 2) {
    const float* v0 = v + j * ld;
    const float* v1 = v0 + ld;
    const float e0 = e[j * es], e1 = e[(j + 1) * es];
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) a[u] += e0 * loadv<W>(v0 + W * u);
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) b[u] += e1 * loadv<W>(v1 + W * u);
  }
  if (j < n) {
    const float* v0 = v + j * ld;
    const float e0 = e[j * es];
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) a[u] += e0 * loadv<W>(v0 + W * u);
  }
#pragma GCC unroll 4
  for (int u = 0; u < 4; ++u) {
    a[u] += b[u];
    if (accumulate) a[u] += loadv<W>(o + W * u);
    storev<W>(o + W * u, a[u]);
  }
}

// o[c] (+)= sum_j e[j * es] * v_j[c] for j < n (rows of v at stride ld). Dh = 64 (GPT-2)
// keeps the sum in registers: one pass of 4 zmm, or two passes over 32 channels of 4 ymm.
template <int W>
CLLM4REC_INLINE void weighted_rows(const float* e, int64_t es, const float* v, int64_t ld,
                                   int64_t n, int64_t Dh, float* o, bool accumulate) {
  if (Dh == 64) {
    for (int64_t c0 = 0; c0 < 64; c0 += 4 * W) weighted_rows4<W>(e, es, v + c0, ld, n, o + c0, accumulate);
    return;
  }
  if (!accumulate)
    for (int64_t c = 0; c < Dh; ++c) o[c] = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    const float ej = e[j * es];
    const float* vj = v + j * ld;
    for (int64_t c = 0; c < Dh; ++c) o[c] += ej * vj[c];
  }
}

// Rows g < ng of S (stride ldt): the products of rows of w (stride ldw) with the packed
// keys or values mt, for j < n; a full group shares every load of mt.
template <int W>
CLLM4REC_INLINE void project_rows(const float* w, int64_t ldw, float wscale, const float* mt,
                                  int64_t ldt, int64_t n, int64_t Dh, int64_t ng, float* S) {
  if (ng == kQueryGroup) {
    project_group<W>(w, ldw, wscale, mt, ldt, n, Dh, S, ldt);
  } else {
    for (int64_t g = 0; g < ng; ++g) project<W>(w + g * ldw, wscale, mt, ldt, n, Dh, S + g * ldt);
  }
}

// s[j] *= mask of element e0 + j of the dropout stream, for j < n (whole Philox blocks of 4).
CLLM4REC_INLINE void apply_dropout(const philox::Dropout& d, uint64_t e0, int64_t n, float* s) {
  const uint64_t end = e0 + uint64_t(n);
  for (uint64_t b = e0 >> 2; 4 * b < end; ++b) {
    const philox::Words w = d.block(b);
    for (int k = 0; k < 4; ++k) {
      const uint64_t e = 4 * b + k;
      if (e >= e0 && e < end) s[e - e0] *= (w.w[k] >> 8) >= d.threshold ? d.scale : 0.0f;
    }
  }
}

// Masked keys get score -inf (their probability is exactly 0).
CLLM4REC_INLINE void apply_mask(const int32_t* mask, int64_t n, float* s) {
  if (mask)
    for (int64_t j = 0; j < n; ++j) s[j] = mask[j] == 0 ? -INFINITY : s[j];
}

// One (batch, head) pair of the forward; kt [Dh, ldt] and S [kQueryGroup, ldt] are the
// thread's scratch.
template <Isa I>
CLLM4REC_INLINE void forward_head(const float* q, int64_t ldq, const float* k, const float* v,
                                  int64_t ldk, const int32_t* keyMask, float* out, float* lse,
                                  int64_t bh, int64_t H, int64_t Tq, int64_t Tk, int64_t Dh,
                                  const philox::Dropout& drop, float* kt, float* S) {
  constexpr int W = kWidth<I>;
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  const int64_t D = H * Dh;
  const int64_t b = bh / H, h = bh % H;
  const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
  const float* kb = k + b * Tk * ldk + h * Dh;
  const float* vb = v + b * Tk * ldk + h * Dh;
  const int64_t ldt = padded_keys(Tk);
  pack_transposed<I>(kb, ldk, Tk, Dh, ldt, kt);
  for (int64_t i0 = 0; i0 < Tq; i0 += kQueryGroup) {
    const int64_t ng = std::min(kQueryGroup, Tq - i0);
    const int64_t nGroup = Tk - Tq + i0 + ng;  // causal bound of the group's last query
    project_rows<W>(q + (b * Tq + i0) * ldq + h * Dh, ldq, scale, kt, ldt, nGroup, Dh, ng, S);
    for (int64_t g = 0; g < ng; ++g) {
      const int64_t i = i0 + g;
      float* s = S + g * ldt;
      float* oi = out + (b * Tq + i) * D + h * Dh;
      float* lsei = lse + (b * H + h) * Tq + i;
      const int64_t n = last_key(mask, Tq, Tk, i) + 1;
      apply_mask(mask, n, s);
      float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
      for (int64_t j = 0; j < n; ++j) mx = s[j] > mx ? s[j] : mx;
      if (mx == -INFINITY) {  // sees no key: zeros and lse = -inf
        for (int64_t c = 0; c < Dh; ++c) oi[c] = 0.0f;
        *lsei = -INFINITY;
        continue;
      }
      double sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < n; ++j) {
        s[j] = detail::exp_approx(s[j] - mx);  // masked keys: exp(-inf) = 0
        sum += s[j];
      }
      // dropout acts on the probabilities after normalisation: the sum stays undropped
      if (drop.active()) apply_dropout(drop, uint64_t((bh * Tq + i) * Tk), n, s);
      weighted_rows<W>(s, 1, vb, ldk, n, Dh, oi, false);
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t c = 0; c < Dh; ++c) oi[c] *= inv;
      *lsei = mx + static_cast<float>(std::log(sum));
    }
  }
}

// Queries per block of the backward: dk and dv rows are updated once per block of
// queries (while they sit in L1) instead of once per query.
constexpr int64_t kQueryBlock = 32;

// One (batch, head) pair of the backward; kt, vt [Dh, ldt] and P, dS [kQueryBlock, ldt]
// are the thread's scratch.
template <Isa I>
CLLM4REC_INLINE void backward_head(const float* dout, const float* q, int64_t ldq,
                                   const float* k, const float* v, int64_t ldk,
                                   const int32_t* keyMask, const float* out, const float* lse,
                                   float* dq, float* dk, float* dv, int64_t bh, int64_t H,
                                   int64_t Tq, int64_t Tk, int64_t Dh,
                                   const philox::Dropout& drop, float* kt, float* vt, float* P,
                                   float* dS) {
  constexpr int W = kWidth<I>;
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  const int64_t D = H * Dh;
  const int64_t b = bh / H, h = bh % H;
  const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
  const float* kb = k + b * Tk * ldk + h * Dh;
  const float* vb = v + b * Tk * ldk + h * Dh;
  float* dkb = dk + b * Tk * ldk + h * Dh;
  float* dvb = dv + b * Tk * ldk + h * Dh;
  const int64_t ldt = padded_keys(Tk);
  pack_transposed<I>(kb, ldk, Tk, Dh, ldt, kt);
  pack_transposed<I>(vb, ldk, Tk, Dh, ldt, vt);
  for (int64_t i0 = 0; i0 < Tq; i0 += kQueryBlock) {
    const int64_t nb = std::min(kQueryBlock, Tq - i0);
    const int64_t nmax = Tk - Tq + i0 + nb;  // causal bound of the block's last query
    // Scores into P and dP = dout . v_j into dS, a group of queries at a time.
    for (int64_t g0 = 0; g0 < nb; g0 += kQueryGroup) {
      const int64_t ng = std::min(kQueryGroup, nb - g0);
      const int64_t nGroup = Tk - Tq + i0 + g0 + ng;
      project_rows<W>(q + (b * Tq + i0 + g0) * ldq + h * Dh, ldq, scale, kt, ldt, nGroup, Dh, ng,
                      P + g0 * ldt);
      project_rows<W>(dout + (b * Tq + i0 + g0) * D + h * Dh, D, 1.0f, vt, ldt, nGroup, Dh, ng,
                      dS + g0 * ldt);
    }
    for (int64_t ii = 0; ii < nb; ++ii) {
      const int64_t i = i0 + ii;
      float* p = P + ii * ldt;
      float* ds = dS + ii * ldt;
      const float l = lse[(b * H + h) * Tq + i];
      // A query with lse = -inf output zeros: it has no gradient at all.
      const int64_t n = l == -INFINITY ? 0 : last_key(mask, Tq, Tk, i) + 1;
      const float* doi = dout + (b * Tq + i) * D + h * Dh;
      const float* oi = out + (b * Tq + i) * D + h * Dh;
      float* dqi = dq + (b * Tq + i) * ldq + h * Dh;
      // P_j recomputed from the saved lse.
      apply_mask(mask, n, p);
      for (int64_t j = 0; j < n; ++j) p[j] = detail::exp_approx(p[j] - l);
      float rowDot = 0.0f;  // sum_j P_j dP_j = dout . out
      for (int64_t c = 0; c < Dh; ++c) rowDot += doi[c] * oi[c];
      // With dropout mask m: out = sum_j P_j m_j v_j, so dP_j = m_j (dout . v_j), and dv
      // takes P_j m_j; rowDot = dout . out is still sum_j P_j dP_j.
      const uint64_t e0 = uint64_t((bh * Tq + i) * Tk);
      if (drop.active()) apply_dropout(drop, e0, n, ds);
      // dS_j = P_j (dP_j - rowDot); scores were scaled, so the chain rule adds scale.
      for (int64_t j = 0; j < n; ++j) ds[j] = p[j] * (ds[j] - rowDot) * scale;
      if (drop.active()) apply_dropout(drop, e0, n, p);
      for (int64_t j = n; j < nmax; ++j) p[j] = ds[j] = 0.0f;
      weighted_rows<W>(ds, 1, kb, ldk, n, Dh, dqi, true);  // dq_i += sum_j dS_j k_j
    }
    // dk_j += sum_i dS_ij q_i and dv_j += sum_i P_ij dout_i over the block's queries
    // (entries past a query's last key are zero).
    const float* qBlock = q + (b * Tq + i0) * ldq + h * Dh;
    const float* doBlock = dout + (b * Tq + i0) * D + h * Dh;
    for (int64_t j = 0; j < nmax; ++j) {
      weighted_rows<W>(dS + j, ldt, qBlock, ldq, nb, Dh, dkb + j * ldk, true);
      weighted_rows<W>(P + j, ldt, doBlock, D, nb, Dh, dvb + j * ldk, true);
    }
  }
}

#define FORWARD_HEAD_ARGS                                                                   \
  const float *q, int64_t ldq, const float *k, const float *v, int64_t ldk,                \
      const int32_t *keyMask, float *out, float *lse, int64_t bh, int64_t H, int64_t Tq,   \
      int64_t Tk, int64_t Dh, const philox::Dropout &drop, float *kt, float *S
#define BACKWARD_HEAD_ARGS                                                                  \
  const float *dout, const float *q, int64_t ldq, const float *k, const float *v,          \
      int64_t ldk, const int32_t *keyMask, const float *out, const float *lse, float *dq,  \
      float *dk, float *dv, int64_t bh, int64_t H, int64_t Tq, int64_t Tk, int64_t Dh,     \
      const philox::Dropout &drop, float *kt, float *vt, float *P, float *dS

// The same per-head code compiled for AVX-512, AVX2 + FMA and the baseline ISA.
#define FORWARD_HEAD_CALL q, ldq, k, v, ldk, keyMask, out, lse, bh, H, Tq, Tk, Dh, drop, kt, S
#define BACKWARD_HEAD_CALL \
  dout, q, ldq, k, v, ldk, keyMask, out, lse, dq, dk, dv, bh, H, Tq, Tk, Dh, drop, kt, vt, P, dS
CLLM4REC_AVX512 void forward_head_avx512(FORWARD_HEAD_ARGS) { forward_head<Isa::kAvx512>(FORWARD_HEAD_CALL); }
CLLM4REC_AVX2 void forward_head_avx2(FORWARD_HEAD_ARGS) { forward_head<Isa::kAvx2>(FORWARD_HEAD_CALL); }
void forward_head_generic(FORWARD_HEAD_ARGS) { forward_head<Isa::kGeneric>(FORWARD_HEAD_CALL); }
CLLM4REC_AVX512 void backward_head_avx512(BACKWARD_HEAD_ARGS) { backward_head<Isa::kAvx512>(BACKWARD_HEAD_CALL); }
CLLM4REC_AVX2 void backward_head_avx2(BACKWARD_HEAD_ARGS) { backward_head<Isa::kAvx2>(BACKWARD_HEAD_CALL); }
void backward_head_generic(BACKWARD_HEAD_ARGS) { backward_head<Isa::kGeneric>(BACKWARD_HEAD_CALL); }

}  // namespace

void attention_forward(const float* q, int64_t ldq, const float* k, const float* v, int64_t ldk,
                       const int32_t* keyMask, float* out, float* lse, int64_t B, int64_t H,
                       int64_t Tq, int64_t Tk, int64_t Dh, int64_t seed, int64_t site,
                       int64_t step, int64_t threshold, float scale, int64_t /*version: CUDA's*/) {
  const philox::Dropout drop = philox::make_dropout(seed, site, step, threshold, scale);
  const auto head = detail::pick(forward_head_avx512, forward_head_avx2, forward_head_generic);
  // OpenMP stays out of the ISA clones: outlined parallel bodies lose the target attribute.
  // Per-thread scratch kt [Dh, ldt] + S [kQueryGroup, ldt], allocated before the parallel
  // region (no exception may leave it) and zero-filled (the key padding must read 0).
  const int threads = omp_get_max_threads();
  const int64_t ldt = padded_keys(Tk), per = (Dh + kQueryGroup) * ldt;
  std::vector<float> scratch(size_t(threads) * size_t(per));
#pragma omp parallel num_threads(threads)
  {
    float* kt = scratch.data() + omp_get_thread_num() * per;
#pragma omp for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < B * H; ++bh)
      head(q, ldq, k, v, ldk, keyMask, out, lse, bh, H, Tq, Tk, Dh, drop, kt, kt + Dh * ldt);
  }
}

void attention_backward(const float* dout, const float* q, int64_t ldq, const float* k,
                        const float* v, int64_t ldk, const int32_t* keyMask, const float* out,
                        const float* lse, float* dq, float* dk, float* dv, int64_t B, int64_t H,
                        int64_t Tq, int64_t Tk, int64_t Dh, int64_t seed, int64_t site,
                        int64_t step, int64_t threshold, float scale, int64_t /*version: CUDA's*/) {
  const philox::Dropout drop = philox::make_dropout(seed, site, step, threshold, scale);
  const auto head = detail::pick(backward_head_avx512, backward_head_avx2, backward_head_generic);
  // Per-thread scratch kt, vt [Dh, ldt] + P, dS [kQueryBlock, ldt], as in the forward.
  const int threads = omp_get_max_threads();
  const int64_t ldt = padded_keys(Tk), per = 2 * (Dh + kQueryBlock) * ldt;
  std::vector<float> scratch(size_t(threads) * size_t(per));
#pragma omp parallel num_threads(threads)
  {
    float* kt = scratch.data() + omp_get_thread_num() * per;
    float* vt = kt + Dh * ldt;
    float* P = vt + Dh * ldt;
    float* dS = P + kQueryBlock * ldt;
#pragma omp for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < B * H; ++bh)
      head(dout, q, ldq, k, v, ldk, keyMask, out, lse, dq, dk, dv, bh, H, Tq, Tk, Dh, drop, kt, vt,
           P, dS);
  }
}

}  // namespace cpu
