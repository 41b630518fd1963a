// Causal multi-head attention with a key-padding mask and a key prefix (Tk >= Tq).
// Forward saves the log-sum-exp per query; backward recomputes the probabilities
// from it. Parallel over (batch, head): each pair owns disjoint rows/columns of
// out, dq, dk and dv, so the backward needs no atomics.
#include <cmath>
#include <vector>

#include "kernels.h"

namespace cpu {

namespace {

inline float dot(const float* a, const float* b, int64_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;  // four chains: lets the compiler vectorise
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

inline void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// Last key position query i may see, or -1 when its own position is masked.
inline int64_t last_key(const int32_t* mask, int64_t Tq, int64_t Tk, int64_t i) {
  const int64_t p = Tk - Tq + i;
  return (mask && mask[p] == 0) ? -1 : p;
}

}  // namespace

void attention_forward(const float* q, int64_t ldq, const float* k, const float* v, int64_t ldk,
                       const int32_t* keyMask, float* out, float* lse, int64_t B, int64_t H,
                       int64_t Tq, int64_t Tk, int64_t Dh) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  const int64_t D = H * Dh;
#pragma omp parallel
  {
    std::vector<float> s(Tk);
#pragma omp for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < B * H; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
      const float* kb = k + b * Tk * ldk + h * Dh;
      const float* vb = v + b * Tk * ldk + h * Dh;
      for (int64_t i = 0; i < Tq; ++i) {
        const float* qi = q + (b * Tq + i) * ldq + h * Dh;
        float* oi = out + (b * Tq + i) * D + h * Dh;
        for (int64_t c = 0; c < Dh; ++c) oi[c] = 0.0f;
        float* lsei = lse + (b * H + h) * Tq + i;
        const int64_t last = last_key(mask, Tq, Tk, i);
        float mx = -INFINITY;
        for (int64_t j = 0; j <= last; ++j) {
          s[j] = (mask && mask[j] == 0) ? -INFINITY : scale * dot(qi, kb + j * ldk, Dh);
          mx = s[j] > mx ? s[j] : mx;
        }
        if (mx == -INFINITY) {  // sees no key: zeros and lse = -inf
          *lsei = -INFINITY;
          continue;
        }
        double sum = 0;
        for (int64_t j = 0; j <= last; ++j) {
          if (s[j] == -INFINITY) continue;
          const float e = std::exp(s[j] - mx);
          sum += e;
          axpy(e, vb + j * ldk, oi, Dh);
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t c = 0; c < Dh; ++c) oi[c] *= inv;
        *lsei = mx + static_cast<float>(std::log(sum));
      }
    }
  }
}

void attention_backward(const float* dout, const float* q, int64_t ldq, const float* k,
                        const float* v, int64_t ldk, const int32_t* keyMask, const float* out,
                        const float* lse, float* dq, float* dk, float* dv, int64_t B, int64_t H,
                        int64_t Tq, int64_t Tk, int64_t Dh) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  const int64_t D = H * Dh;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
    const float* kb = k + b * Tk * ldk + h * Dh;
    const float* vb = v + b * Tk * ldk + h * Dh;
    float* dkb = dk + b * Tk * ldk + h * Dh;
    float* dvb = dv + b * Tk * ldk + h * Dh;
    for (int64_t i = 0; i < Tq; ++i) {
      const float l = lse[(b * H + h) * Tq + i];
      if (l == -INFINITY) continue;  // output was zeros, independent of every input
      const float* qi = q + (b * Tq + i) * ldq + h * Dh;
      const float* doi = dout + (b * Tq + i) * D + h * Dh;
      const float* oi = out + (b * Tq + i) * D + h * Dh;
      float* dqi = dq + (b * Tq + i) * ldq + h * Dh;
      const float rowDot = dot(doi, oi, Dh);  // sum_j P_j (dout . v_j)
      const int64_t last = last_key(mask, Tq, Tk, i);
      for (int64_t j = 0; j <= last; ++j) {
        if (mask && mask[j] == 0) continue;
        const float p = std::exp(scale * dot(qi, kb + j * ldk, Dh) - l);
        const float ds = p * (dot(doi, vb + j * ldk, Dh) - rowDot) * scale;
        axpy(ds, kb + j * ldk, dqi, Dh);
        axpy(ds, qi, dkb + j * ldk, Dh);
        axpy(p, doi, dvb + j * ldk, Dh);
      }
    }
  }
}

}  // namespace cpu
