// Elementwise family: add, fill, mul, tanh, exp and log-sigmoid, forward and backward.
// Every element is read before it is written, so an output may alias an input of the
// same size.
#include <cmath>

#include "kernels.h"
#include "parallel.h"

namespace cpu {

using detail::kParallelGrain;

void add(const float* a, float alpha, const float* b, float beta, float* out, int64_t n,
         bool accumulate) {
  // Each element is read before it is written, so out may alias a or b.
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    float v = a[i] * alpha;
    if (b) v += b[i] * beta;
    out[i] = accumulate ? out[i] + v : v;
  }
}

void fill(float* out, float value, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = value;
}

void mul(const float* a, const float* b, float* out, int64_t n, bool accumulate) {
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float v = a[i] * b[i];
    out[i] = accumulate ? out[i] + v : v;
  }
}

void tanh_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

void tanh_backward(const float* y, const float* dy, float* dx, int64_t n, bool accumulate) {
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float v = dy[i] * (1.0f - y[i] * y[i]);
    dx[i] = accumulate ? dx[i] + v : v;
  }
}

void exp_forward(const float* x, float scale, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(scale * x[i]);
}

void exp_backward(const float* y, const float* dy, float scale, float* dx, int64_t n,
                  bool accumulate) {
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float v = scale * dy[i] * y[i];
    dx[i] = accumulate ? dx[i] + v : v;
  }
}

void log_sigmoid_forward(const float* x, float* y, int64_t n) {
  // log sigmoid(x) = -softplus(-x); the |x| form never overflows exp.
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = std::fmin(v, 0.0f) - std::log1p(std::exp(-std::fabs(v)));
  }
}

void log_sigmoid_backward(const float* x, const float* dy, float* dx, int64_t n,
                          bool accumulate) {
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    // sigmoid(-x) written so that exp only ever sees a non-positive argument.
    const float v = x[i];
    const float e = std::exp(-std::fabs(v));
    const float s = v >= 0.0f ? e / (1.0f + e) : 1.0f / (1.0f + e);
    const float g = dy[i] * s;
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

}  // namespace cpu
