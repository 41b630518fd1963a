// Elementwise family: add, fill, mul, tanh, exp and log-sigmoid, forward and backward;
// line-by-line twins of native/cpu/elementwise.cc.
#include "common.cuh"

namespace cuda {
namespace {

using detail::grid_for;
using detail::kThreads;

#define CLLM4REC_GRID_STRIDE(i, n)                                                   \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n);         \
       i += int64_t(gridDim.x) * blockDim.x)

__global__ void add_kernel(const float* a, float alpha, const float* b, float beta, float* out,
                           int64_t n, bool accumulate) {
  // Each element is read before it is written, so out may alias a or b.
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float v = a[i] * alpha;
    if (b) v += b[i] * beta;
    out[i] = accumulate ? out[i] + v : v;
  }
}

__global__ void fill_kernel(float* out, float value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = value;
}

__global__ void mul_kernel(const float* a, const float* b, float* out, int64_t n,
                           bool accumulate) {
  CLLM4REC_GRID_STRIDE(i, n) {
    const float v = a[i] * b[i];
    out[i] = accumulate ? out[i] + v : v;
  }
}

__global__ void tanh_forward_kernel(const float* x, float* y, int64_t n) {
  CLLM4REC_GRID_STRIDE(i, n) y[i] = tanhf(x[i]);
}

__global__ void tanh_backward_kernel(const float* y, const float* dy, float* dx, int64_t n,
                                     bool accumulate) {
  CLLM4REC_GRID_STRIDE(i, n) {
    const float v = dy[i] * (1.0f - y[i] * y[i]);
    dx[i] = accumulate ? dx[i] + v : v;
  }
}

__global__ void exp_forward_kernel(const float* x, float scale, float* y, int64_t n) {
  CLLM4REC_GRID_STRIDE(i, n) y[i] = expf(scale * x[i]);
}

__global__ void exp_backward_kernel(const float* y, const float* dy, float scale, float* dx,
                                    int64_t n, bool accumulate) {
  CLLM4REC_GRID_STRIDE(i, n) {
    const float v = scale * dy[i] * y[i];
    dx[i] = accumulate ? dx[i] + v : v;
  }
}

__global__ void log_sigmoid_forward_kernel(const float* x, float* y, int64_t n) {
  // log sigmoid(x) = -softplus(-x); the |x| form never overflows exp.
  CLLM4REC_GRID_STRIDE(i, n) {
    const float v = x[i];
    y[i] = fminf(v, 0.0f) - log1pf(expf(-fabsf(v)));
  }
}

__global__ void log_sigmoid_backward_kernel(const float* x, const float* dy, float* dx,
                                            int64_t n, bool accumulate) {
  CLLM4REC_GRID_STRIDE(i, n) {
    // sigmoid(-x) written so that exp only ever sees a non-positive argument.
    const float v = x[i];
    const float e = expf(-fabsf(v));
    const float s = v >= 0.0f ? e / (1.0f + e) : 1.0f / (1.0f + e);
    const float g = dy[i] * s;
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

#undef CLLM4REC_GRID_STRIDE

}  // namespace

void add(const float* a, float alpha, const float* b, float beta, float* out, int64_t n,
         bool accumulate) {
  if (n <= 0) return;
  add_kernel<<<grid_for(n), kThreads, 0, detail::stream()>>>(a, alpha, b, beta, out, n,
                                                             accumulate);
  check_last("add");
}

void fill(float* out, float value, int64_t n) {
  if (n <= 0) return;
  fill_kernel<<<grid_for(n), kThreads, 0, detail::stream()>>>(out, value, n);
  check_last("fill");
}

void mul(const float* a, const float* b, float* out, int64_t n, bool accumulate) {
  if (n <= 0) return;
  mul_kernel<<<grid_for(n), kThreads, 0, detail::stream()>>>(a, b, out, n, accumulate);
  check_last("mul");
}

void tanh_forward(const float* x, float* y, int64_t n) {
  if (n <= 0) return;
  tanh_forward_kernel<<<grid_for(n), kThreads, 0, detail::stream()>>>(x, y, n);
  check_last("tanh_forward");
}

void tanh_backward(const float* y, const float* dy, float* dx, int64_t n, bool accumulate) {
  if (n <= 0) return;
  tanh_backward_kernel<<<grid_for(n), kThreads, 0, detail::stream()>>>(y, dy, dx, n,
                                                                       accumulate);
  check_last("tanh_backward");
}

void exp_forward(const float* x, float scale, float* y, int64_t n) {
  if (n <= 0) return;
  exp_forward_kernel<<<grid_for(n), kThreads, 0, detail::stream()>>>(x, scale, y, n);
  check_last("exp_forward");
}

void exp_backward(const float* y, const float* dy, float scale, float* dx, int64_t n,
                  bool accumulate) {
  if (n <= 0) return;
  exp_backward_kernel<<<grid_for(n), kThreads, 0, detail::stream()>>>(y, dy, scale, dx, n,
                                                                      accumulate);
  check_last("exp_backward");
}

void log_sigmoid_forward(const float* x, float* y, int64_t n) {
  if (n <= 0) return;
  log_sigmoid_forward_kernel<<<grid_for(n), kThreads, 0, detail::stream()>>>(x, y, n);
  check_last("log_sigmoid_forward");
}

void log_sigmoid_backward(const float* x, const float* dy, float* dx, int64_t n,
                          bool accumulate) {
  if (n <= 0) return;
  log_sigmoid_backward_kernel<<<grid_for(n), kThreads, 0, detail::stream()>>>(x, dy, dx, n,
                                                                              accumulate);
  check_last("log_sigmoid_backward");
}

}  // namespace cuda
