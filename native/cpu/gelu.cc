// GELU, tanh approximation (GPT-2's gelu_new), forward and backward. tanh is computed
// from the branch-free exp_approx so the loops vectorise (libm's tanh is a scalar call per
// element, which made GELU cost more than a GPT-2 layer's GEMMs); |error| < 1e-7.
#include <cmath>

#include "kernels.h"
#include "parallel.h"
#include "simd.h"

namespace cpu {

namespace {
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

// tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2|u|) in (0, 1]: no overflow for any u.
CLLM4REC_INLINE float tanh_approx(float u) {
  const float e = detail::exp_approx(-2.0f * std::fabs(u));
  const float t = (1.0f - e) / (1.0f + e);
  return u < 0.0f ? -t : t;
}

CLLM4REC_INLINE void forward_impl(const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + tanh_approx(kSqrt2OverPi * (v + kCubic * v * v * v)));
  }
}

constexpr int64_t kBlock = 4096;  // elements per task: one OpenMP loop, vector clones inside

// g = dy * gelu'(x) into dx. A run-time "accumulate ? dx + g : g" in this loop's body kept
// GCC from vectorising it (the backward ran 12x slower than the forward).
CLLM4REC_INLINE void backward_set(const float* x, const float* dy, float* dx, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float t = tanh_approx(kSqrt2OverPi * (v + kCubic * v * v * v));
    const float dinner = kSqrt2OverPi * (1.0f + 3.0f * kCubic * v * v);
    dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * dinner);
  }
}

// n <= kBlock. Accumulating goes through a block on the stack so that dx + g stays a
// rounded product plus an add (as the scalar loop computed it), never one contracted FMA.
CLLM4REC_INLINE void backward_impl(const float* x, const float* dy, float* dx, int64_t n,
                                   bool accumulate) {
  if (!accumulate) return backward_set(x, dy, dx, n);
  alignas(64) float g[kBlock];
  backward_set(x, dy, g, n);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dx[i] += g[i];
}

CLLM4REC_AVX512 void forward_avx512(const float* x, float* y, int64_t n) { forward_impl(x, y, n); }
CLLM4REC_AVX2 void forward_avx2(const float* x, float* y, int64_t n) { forward_impl(x, y, n); }
void forward_generic(const float* x, float* y, int64_t n) { forward_impl(x, y, n); }
CLLM4REC_AVX512 void backward_avx512(const float* x, const float* dy, float* dx, int64_t n,
                                     bool accumulate) {
  backward_impl(x, dy, dx, n, accumulate);
}
CLLM4REC_AVX2 void backward_avx2(const float* x, const float* dy, float* dx, int64_t n, bool accumulate) {
  backward_impl(x, dy, dx, n, accumulate);
}
void backward_generic(const float* x, const float* dy, float* dx, int64_t n, bool accumulate) {
  backward_impl(x, dy, dx, n, accumulate);
}
}  // namespace

void gelu_forward(const float* x, float* y, int64_t n) {
  const auto run = detail::pick(forward_avx512, forward_avx2, forward_generic);
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n >= detail::kParallelGrain)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t i = b * kBlock;
    run(x + i, y + i, n - i < kBlock ? n - i : kBlock);
  }
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, bool accumulate) {
  const auto run = detail::pick(backward_avx512, backward_avx2, backward_generic);
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n >= detail::kParallelGrain)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t i = b * kBlock;
    run(x + i, dy + i, dx + i, n - i < kBlock ? n - i : kBlock, accumulate);
  }
}

}  // namespace cpu
