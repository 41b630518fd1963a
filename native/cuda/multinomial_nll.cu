// Fused log-softmax + multinomial NLL with multi-hot (nonnegative) targets: one block
// per row, deterministic block reductions in double. The backward recomputes the
// probabilities from logits and the saved lse.
#include "common.cuh"

namespace cuda {
namespace {

constexpr int kRowThreads = 512;

__global__ void multinomial_nll_forward_kernel(const float* logits, const float* t, float* loss,
                                               float* lse, int64_t C) {
  __shared__ float smax[32];
  __shared__ double ssum[32];
  const int64_t r = blockIdx.x;
  const float* x = logits + r * C;
  const float* tr = t + r * C;
  float mx = -INFINITY;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) mx = fmaxf(mx, x[c]);
  mx = detail::block_max(mx, smax);
  double s = 0, st = 0, stx = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float xc = x[c];
    if (mx != -INFINITY) s += expf(xc - mx);
    const float tc = tr[c];
    if (tc == 0.0f) continue;  // x may be -inf where the target is 0
    st += tc;
    stx += double(tc) * xc;
  }
  s = detail::block_sum(s, ssum);
  st = detail::block_sum(st, ssum);
  stx = detail::block_sum(stx, ssum);
  if (threadIdx.x == 0) {
    const float l = mx == -INFINITY ? -INFINITY : static_cast<float>(double(mx) + log(s));
    lse[r] = l;
    // -sum t (x - lse) = lse * sum t - sum t x
    loss[r] = static_cast<float>(double(l) * st - stx);
  }
}

__global__ void multinomial_nll_backward_kernel(const float* logits, const float* t,
                                                const float* lse, const float* dloss,
                                                float* dlogits, int64_t C, bool accumulate) {
  __shared__ double ssum[32];
  const int64_t r = blockIdx.x;
  const float* x = logits + r * C;
  const float* tr = t + r * C;
  float* dx = dlogits + r * C;
  double st = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) st += tr[c];
  st = detail::block_sum(st, ssum);
  const float sumT = static_cast<float>(st), l = lse[r], g = dloss[r];
  // Each element is read before the same thread writes it, so dlogits may alias logits.
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float v = g * (expf(x[c] - l) * sumT - tr[c]);
    dx[c] = accumulate ? dx[c] + v : v;
  }
}

}  // namespace

void multinomial_nll_forward(const float* logits, const float* t, float* loss, float* lse,
                             int64_t R, int64_t C) {
  if (R <= 0) return;
  multinomial_nll_forward_kernel<<<static_cast<unsigned>(R), kRowThreads, 0,
                                   detail::stream()>>>(logits, t, loss, lse, C);
  check_last("multinomial_nll_forward");
}

void multinomial_nll_backward(const float* logits, const float* t, const float* lse,
                              const float* dloss, float* dlogits, int64_t R, int64_t C,
                              bool accumulate) {
  if (R <= 0 || C <= 0) return;
  multinomial_nll_backward_kernel<<<static_cast<unsigned>(R), kRowThreads, 0,
                                    detail::stream()>>>(logits, t, lse, dloss, dlogits, C,
                                                        accumulate);
  check_last("multinomial_nll_backward");
}

}  // namespace cuda
