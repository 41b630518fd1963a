// Causal multi-head attention with a key-padding mask and a key prefix (Tk >= Tq).
// Forward saves the log-sum-exp per query; backward recomputes the probabilities
// from it. Parallel over (batch, head): each pair owns disjoint rows/columns of
// out, dq, dk and dv, so the backward needs no atomics. Per head, k (and v for the
// backward) are packed transposed [Dh, Tk] so that the scores of one query against
// all keys are a vectorised loop over keys rather than one dot product per key.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "simd.h"

namespace cpu {

namespace {

// Last key position query i may see, or -1 when its own position is masked.
CLLM4REC_INLINE int64_t last_key(const int32_t* mask, int64_t Tq, int64_t Tk, int64_t i) {
  const int64_t p = Tk - Tq + i;
  return (mask && mask[p] == 0) ? -1 : p;
}

// dst[c * Tk + j] = src[j * ld + c] for j < n, c < Dh: one head's keys or values, transposed.
CLLM4REC_INLINE void pack_transposed(const float* src, int64_t ld, int64_t n, int64_t Dh,
                                     int64_t Tk, float* dst) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < Dh; ++c) dst[c * Tk + j] = src[j * ld + c];
}

// s[j] = scale * (q . k_j) for j < n, from keys packed [Dh, Tk]; masked keys get -inf.
CLLM4REC_INLINE void scores(const float* qi, const float* kt, const int32_t* mask, float scale,
                            int64_t n, int64_t Dh, int64_t Tk, float* s) {
  for (int64_t j = 0; j < n; ++j) s[j] = 0.0f;
  for (int64_t c = 0; c < Dh; ++c) {
    const float qc = qi[c] * scale;
    const float* kr = kt + c * Tk;
    for (int64_t j = 0; j < n; ++j) s[j] += qc * kr[j];
  }
  if (mask)
    for (int64_t j = 0; j < n; ++j) s[j] = mask[j] == 0 ? -INFINITY : s[j];
}

// One (batch, head) pair of the forward; kt [Dh, Tk] and s [Tk] are the thread's scratch.
CLLM4REC_INLINE void forward_head(const float* q, int64_t ldq, const float* k, const float* v,
                                  int64_t ldk, const int32_t* keyMask, float* out, float* lse,
                                  int64_t bh, int64_t H, int64_t Tq, int64_t Tk, int64_t Dh,
                                  float* kt, float* s) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  const int64_t D = H * Dh;
  const int64_t b = bh / H, h = bh % H;
  const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
  const float* kb = k + b * Tk * ldk + h * Dh;
  const float* vb = v + b * Tk * ldk + h * Dh;
  pack_transposed(kb, ldk, Tk, Dh, Tk, kt);
  for (int64_t i = 0; i < Tq; ++i) {
    const float* qi = q + (b * Tq + i) * ldq + h * Dh;
    float* oi = out + (b * Tq + i) * D + h * Dh;
    float* lsei = lse + (b * H + h) * Tq + i;
    for (int64_t c = 0; c < Dh; ++c) oi[c] = 0.0f;
    const int64_t n = last_key(mask, Tq, Tk, i) + 1;
    scores(qi, kt, mask, scale, n, Dh, Tk, s);
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < n; ++j) mx = s[j] > mx ? s[j] : mx;
    if (mx == -INFINITY) {  // sees no key: zeros and lse = -inf
      *lsei = -INFINITY;
      continue;
    }
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; ++j) {
      s[j] = detail::exp_approx(s[j] - mx);  // masked keys: exp(-inf) = 0
      sum += s[j];
    }
    for (int64_t j = 0; j < n; ++j) {
      const float e = s[j];
      if (e == 0.0f) continue;
      const float* vj = vb + j * ldk;
      for (int64_t c = 0; c < Dh; ++c) oi[c] += e * vj[c];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t c = 0; c < Dh; ++c) oi[c] *= inv;
    *lsei = mx + static_cast<float>(std::log(sum));
  }
}

// Queries per block of the backward: dk and dv rows are updated once per block of
// queries (while they sit in L1) instead of once per query.
constexpr int64_t kQueryBlock = 32;

// One (batch, head) pair of the backward; kt, vt [Dh, Tk] and P, dS [kQueryBlock, Tk]
// are the thread's scratch.
CLLM4REC_INLINE void backward_head(const float* dout, const float* q, int64_t ldq,
                                   const float* k, const float* v, int64_t ldk,
                                   const int32_t* keyMask, const float* out, const float* lse,
                                   float* dq, float* dk, float* dv, int64_t bh, int64_t H,
                                   int64_t Tq, int64_t Tk, int64_t Dh, float* kt, float* vt,
                                   float* P, float* dS) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  const int64_t D = H * Dh;
  const int64_t b = bh / H, h = bh % H;
  const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
  const float* kb = k + b * Tk * ldk + h * Dh;
  const float* vb = v + b * Tk * ldk + h * Dh;
  float* dkb = dk + b * Tk * ldk + h * Dh;
  float* dvb = dv + b * Tk * ldk + h * Dh;
  pack_transposed(kb, ldk, Tk, Dh, Tk, kt);
  pack_transposed(vb, ldk, Tk, Dh, Tk, vt);
  for (int64_t i0 = 0; i0 < Tq; i0 += kQueryBlock) {
    const int64_t nb = std::min(kQueryBlock, Tq - i0);
    const int64_t nmax = Tk - Tq + i0 + nb;  // causal bound of the block's last query
    for (int64_t ii = 0; ii < nb; ++ii) {
      const int64_t i = i0 + ii;
      float* p = P + ii * Tk;
      float* ds = dS + ii * Tk;
      const float l = lse[(b * H + h) * Tq + i];
      // A query with lse = -inf output zeros: it has no gradient at all.
      const int64_t n = l == -INFINITY ? 0 : last_key(mask, Tq, Tk, i) + 1;
      const float* qi = q + (b * Tq + i) * ldq + h * Dh;
      const float* doi = dout + (b * Tq + i) * D + h * Dh;
      const float* oi = out + (b * Tq + i) * D + h * Dh;
      float* dqi = dq + (b * Tq + i) * ldq + h * Dh;
      // P_j recomputed from the saved lse; dP_j = dout . v_j.
      scores(qi, kt, mask, scale, n, Dh, Tk, p);
      for (int64_t j = 0; j < n; ++j) p[j] = detail::exp_approx(p[j] - l);
      for (int64_t j = 0; j < n; ++j) ds[j] = 0.0f;
      for (int64_t c = 0; c < Dh; ++c) {
        const float dc = doi[c];
        const float* vr = vt + c * Tk;
        for (int64_t j = 0; j < n; ++j) ds[j] += dc * vr[j];
      }
      float rowDot = 0.0f;  // sum_j P_j dP_j = dout . out
      for (int64_t c = 0; c < Dh; ++c) rowDot += doi[c] * oi[c];
      // dS_j = P_j (dP_j - rowDot); scores were scaled, so the chain rule adds scale.
      for (int64_t j = 0; j < n; ++j) ds[j] = p[j] * (ds[j] - rowDot) * scale;
      for (int64_t j = n; j < nmax; ++j) p[j] = ds[j] = 0.0f;
      // dq_i += sum_j dS_j k_j, as dot products over the transposed keys.
      for (int64_t c = 0; c < Dh; ++c) {
        const float* kr = kt + c * Tk;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < n; ++j) acc += ds[j] * kr[j];
        dqi[c] += acc;
      }
    }
    // dk_j += sum_i dS_ij q_i and dv_j += sum_i P_ij dout_i over the block's queries.
    for (int64_t j = 0; j < nmax; ++j) {
      float* dkj = dkb + j * ldk;
      float* dvj = dvb + j * ldk;
      for (int64_t ii = 0; ii < nb; ++ii) {
        const float pj = P[ii * Tk + j], ds = dS[ii * Tk + j];
        if (pj == 0.0f) continue;  // masked, causal or underflowed: no contribution
        const float* qi = q + (b * Tq + i0 + ii) * ldq + h * Dh;
        const float* doi = dout + (b * Tq + i0 + ii) * D + h * Dh;
        for (int64_t c = 0; c < Dh; ++c) {
          dkj[c] += ds * qi[c];
          dvj[c] += pj * doi[c];
        }
      }
    }
  }
}

#define FORWARD_HEAD_ARGS                                                                   \
  const float *q, int64_t ldq, const float *k, const float *v, int64_t ldk,                \
      const int32_t *keyMask, float *out, float *lse, int64_t bh, int64_t H, int64_t Tq,   \
      int64_t Tk, int64_t Dh, float *kt, float *s
#define BACKWARD_HEAD_ARGS                                                                  \
  const float *dout, const float *q, int64_t ldq, const float *k, const float *v,          \
      int64_t ldk, const int32_t *keyMask, const float *out, const float *lse, float *dq,  \
      float *dk, float *dv, int64_t bh, int64_t H, int64_t Tq, int64_t Tk, int64_t Dh,     \
      float *kt, float *vt, float *P, float *dS

// The same per-head code compiled for AVX-512 and for the baseline ISA.
CLLM4REC_AVX512 void forward_head_avx512(FORWARD_HEAD_ARGS) {
  forward_head(q, ldq, k, v, ldk, keyMask, out, lse, bh, H, Tq, Tk, Dh, kt, s);
}
void forward_head_generic(FORWARD_HEAD_ARGS) {
  forward_head(q, ldq, k, v, ldk, keyMask, out, lse, bh, H, Tq, Tk, Dh, kt, s);
}
CLLM4REC_AVX512 void backward_head_avx512(BACKWARD_HEAD_ARGS) {
  backward_head(dout, q, ldq, k, v, ldk, keyMask, out, lse, dq, dk, dv, bh, H, Tq, Tk, Dh, kt,
                vt, P, dS);
}
void backward_head_generic(BACKWARD_HEAD_ARGS) {
  backward_head(dout, q, ldq, k, v, ldk, keyMask, out, lse, dq, dk, dv, bh, H, Tq, Tk, Dh, kt,
                vt, P, dS);
}

}  // namespace

void attention_forward(const float* q, int64_t ldq, const float* k, const float* v, int64_t ldk,
                       const int32_t* keyMask, float* out, float* lse, int64_t B, int64_t H,
                       int64_t Tq, int64_t Tk, int64_t Dh) {
  const auto head = detail::has_avx512() ? forward_head_avx512 : forward_head_generic;
  // OpenMP stays out of the ISA clones: outlined parallel bodies lose the target attribute.
#pragma omp parallel
  {
    std::vector<float> kt(Dh * Tk), s(Tk);
#pragma omp for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < B * H; ++bh)
      head(q, ldq, k, v, ldk, keyMask, out, lse, bh, H, Tq, Tk, Dh, kt.data(), s.data());
  }
}

void attention_backward(const float* dout, const float* q, int64_t ldq, const float* k,
                        const float* v, int64_t ldk, const int32_t* keyMask, const float* out,
                        const float* lse, float* dq, float* dk, float* dv, int64_t B, int64_t H,
                        int64_t Tq, int64_t Tk, int64_t Dh) {
  const auto head = detail::has_avx512() ? backward_head_avx512 : backward_head_generic;
#pragma omp parallel
  {
    std::vector<float> kt(Dh * Tk), vt(Dh * Tk), P(kQueryBlock * Tk), dS(kQueryBlock * Tk);
#pragma omp for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < B * H; ++bh)
      head(dout, q, ldq, k, v, ldk, keyMask, out, lse, dq, dk, dv, bh, H, Tq, Tk, Dh, kt.data(),
           vt.data(), P.data(), dS.data());
  }
}

}  // namespace cpu
