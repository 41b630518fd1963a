// Fused softmax + cross-entropy over C classes with masked rows (target < 0): one block
// per row, block reductions (max, then a double sum of exponentials), no probabilities
// kept. The backward recomputes them from logits and the saved lse. A target >= C is
// reported through the device status block (common.cuh) and its row written as NaN.
#include "common.cuh"

namespace cuda {
namespace {

constexpr int kRowThreads = 512;

__global__ void cross_entropy_forward_kernel(const float* logits, const int32_t* target,
                                            float* loss, float* lse, int64_t C,
                                            detail::DeviceStatus* status) {
  __shared__ float smax[32];
  __shared__ double ssum[32];
  const int64_t r = blockIdx.x;
  const int32_t t = target[r];
  if (t < 0 || t >= C) {  // masked row (loss 0, lse 0 as on the CPU), or a bad target
    if (threadIdx.x == 0) {
      loss[r] = t < 0 ? 0.0f : NAN;
      lse[r] = t < 0 ? 0.0f : NAN;
      if (t >= C) detail::report_bad_value(status, detail::kCheckCrossEntropyForward, r, t, C);
    }
    return;
  }
  const float* x = logits + r * C;
  float mx = -INFINITY;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) mx = fmaxf(mx, x[c]);
  mx = detail::block_max(mx, smax);
  double s = 0;
  if (mx != -INFINITY)
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += expf(x[c] - mx);
  s = detail::block_sum(s, ssum);
  if (threadIdx.x == 0) {
    const float l = mx == -INFINITY ? -INFINITY : static_cast<float>(double(mx) + log(s));
    lse[r] = l;
    loss[r] = l - x[t];
  }
}

__global__ void cross_entropy_backward_kernel(const float* logits, const int32_t* target,
                                             const float* lse, const float* dloss,
                                             float* dlogits, int64_t C, bool accumulate,
                                             detail::DeviceStatus* status) {
  const int64_t r = blockIdx.x;
  const float* x = logits + r * C;
  float* dx = dlogits + r * C;
  const int32_t t = target[r];
  if (t >= C) {  // never read past the row: poison it and report
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dx[c] = NAN;
    if (threadIdx.x == 0) detail::report_bad_value(status, detail::kCheckCrossEntropyBackward, r, t, C);
    return;
  }
  if (t < 0) {
    if (!accumulate)
      for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dx[c] = 0.0f;
    return;
  }
  const float l = lse[r], g = dloss[r];
  // x[c] is read before dx[c] is written by the same thread, so dlogits may alias logits.
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float v = g * (expf(x[c] - l) - (c == t ? 1.0f : 0.0f));
    dx[c] = accumulate ? dx[c] + v : v;
  }
}

}  // namespace

void cross_entropy_forward(const float* logits, const int32_t* target, float* loss, float* lse,
                          int64_t R, int64_t C) {
  if (R <= 0) return;
  cross_entropy_forward_kernel<<<static_cast<unsigned>(R), kRowThreads, 0, detail::stream()>>>(
      logits, target, loss, lse, C, detail::device_status());
  check_last("cross_entropy_forward");
}

void cross_entropy_backward(const float* logits, const int32_t* target, const float* lse,
                           const float* dloss, float* dlogits, int64_t R, int64_t C,
                           bool accumulate) {
  if (R <= 0 || C <= 0) return;
  cross_entropy_backward_kernel<<<static_cast<unsigned>(R), kRowThreads, 0, detail::stream()>>>(
      logits, target, lse, dloss, dlogits, C, accumulate, detail::device_status());
  check_last("cross_entropy_backward");
}

}  // namespace cuda
