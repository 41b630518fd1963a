// Fused log-softmax + multinomial NLL against sparse (CSR) targets over one chunk of
// columns [c0, c0 + W): one block per row, deterministic block reductions in double.
// The backward recomputes the probabilities from logits and the saved lse. A bad row
// pointer or column is found here, reported through the device status block
// (common.cuh) and its row written as NaN.
#include "common.cuh"

namespace cuda {
namespace {

constexpr int kRowThreads = 512;

struct Csr {
  const int32_t* rowPtr;
  const int32_t* cols;
  const float* values;  // null: every weight is 1 (multi-hot)
  __device__ float weight(int64_t k) const { return values ? values[k] : 1.0f; }
};

// The row's targets [k0, k1) when they are well formed (as the CPU twin checks), else
// reports the first fault this block sees and returns false in every thread.
__device__ bool row_targets(const Csr& t, int64_t r, int64_t C, int64_t nnz, int op,
                            detail::DeviceStatus* status, int64_t* k0, int64_t* k1) {
  __shared__ int bad;
  if (threadIdx.x == 0) bad = 0;
  __syncthreads();
  const int64_t a = t.rowPtr[r], b = t.rowPtr[r + 1];
  if (a < 0 || b < a || b > nnz) {  // rows out of order: never read cols
    if (threadIdx.x == 0) detail::report_bad_value(status, op, r, int(b < a ? b : a), nnz, detail::kBadRowPointer);
    return false;
  }
  for (int64_t k = a + threadIdx.x; k < b; k += blockDim.x) {
    const int32_t c = t.cols[k];
    const bool out = c < 0 || c >= C, order = k > a && c <= t.cols[k - 1];
    if (out || order) {
      atomicExch(&bad, 1);
      detail::report_bad_value(status, op, r, c, C, out ? detail::kBadColumn : detail::kColumnOrder);
    }
  }
  __syncthreads();
  *k0 = a;
  *k1 = b;
  return bad == 0;
}

__global__ void multinomial_nll_forward_kernel(const float* logits, int64_t W, int64_t c0, int64_t C,
                                               Csr t, int64_t nnz, float* lse, float* stx,
                                               float* loss, bool first, bool last,
                                               detail::DeviceStatus* status) {
  __shared__ float smax[32];
  __shared__ double ssum[32];
  const int64_t r = blockIdx.x;
  int64_t k0, k1;
  if (!row_targets(t, r, C, nnz, detail::kCheckMultinomialNllForward, status, &k0, &k1)) {
    if (threadIdx.x == 0) lse[r] = stx[r] = loss[r] = NAN;
    return;
  }
  const float* x = logits + r * W;
  float mx = -INFINITY;
  for (int64_t c = threadIdx.x; c < W; c += blockDim.x) mx = fmaxf(mx, x[c]);
  mx = detail::block_max(mx, smax);
  double s = 0, st = 0, sx = 0;
  if (mx != -INFINITY)
    for (int64_t c = threadIdx.x; c < W; c += blockDim.x) s += expf(x[c] - mx);
  for (int64_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
    const float w = t.weight(k);
    const int64_t c = t.cols[k] - c0;
    st += w;
    if (c >= 0 && c < W && w != 0.0f) sx += double(w) * x[c];  // w == 0 adds 0 even where x = -inf
  }
  s = detail::block_sum(s, ssum);
  st = detail::block_sum(st, ssum);
  sx = detail::block_sum(sx, ssum);
  if (threadIdx.x != 0) return;
  const float l = mx == -INFINITY ? -INFINITY : static_cast<float>(double(mx) + log(s));
  float L = l;
  if (!first) {  // merge with the chunks seen so far
    const float a = lse[r];
    const double m = fmax(double(a), double(l)), o = fmin(double(a), double(l));
    L = a == -INFINITY ? l : l == -INFINITY ? a : static_cast<float>(m + log1p(exp(o - m)));
    sx += double(stx[r]);
  }
  lse[r] = L;
  stx[r] = static_cast<float>(sx);
  // -sum t (x - lse) = lse * sum t - sum t x
  if (last) loss[r] = static_cast<float>(double(L) * st - sx);
}

__global__ void multinomial_nll_backward_kernel(const float* logits, int64_t W, int64_t c0, int64_t C,
                                                Csr t, int64_t nnz, const float* lse,
                                                const float* dloss, float* dlogits,
                                                bool accumulate, detail::DeviceStatus* status) {
  __shared__ double ssum[32];
  const int64_t r = blockIdx.x;
  const float* x = logits + r * W;
  float* dx = dlogits + r * W;
  int64_t k0, k1;
  if (!row_targets(t, r, C, nnz, detail::kCheckMultinomialNllBackward, status, &k0, &k1)) {
    for (int64_t c = threadIdx.x; c < W; c += blockDim.x) dx[c] = NAN;
    return;
  }
  double st = 0;
  for (int64_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) st += t.weight(k);
  st = detail::block_sum(st, ssum);
  const float sumT = static_cast<float>(st), l = lse[r], g = dloss[r];
  // Each element is read before the same thread writes it, so dlogits may alias logits.
  for (int64_t c = threadIdx.x; c < W; c += blockDim.x) {
    const float v = g * (expf(x[c] - l) * sumT);
    dx[c] = accumulate ? dx[c] + v : v;
  }
  __syncthreads();
  // the -t scatter: the columns are distinct, so no two threads write one element
  for (int64_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
    const int64_t c = t.cols[k] - c0;
    if (c >= 0 && c < W) dx[c] -= g * t.weight(k);
  }
}

}  // namespace

void multinomial_nll_forward(const float* logits, int64_t R, int64_t W, int64_t c0, int64_t C,
                             const int32_t* rowPtr, const int32_t* cols, const float* values,
                             int64_t nnz, float* lse, float* stx, float* loss, bool first,
                             bool last) {
  if (R <= 0) return;
  multinomial_nll_forward_kernel<<<static_cast<unsigned>(R), kRowThreads, 0, detail::stream()>>>(
      logits, W, c0, C, Csr{rowPtr, cols, values}, nnz, lse, stx, loss, first, last,
      detail::device_status());
  check_last("multinomial_nll_forward");
}

void multinomial_nll_backward(const float* logits, int64_t R, int64_t W, int64_t c0, int64_t C,
                              const int32_t* rowPtr, const int32_t* cols, const float* values,
                              int64_t nnz, const float* lse, const float* dloss, float* dlogits,
                              bool accumulate) {
  if (R <= 0 || W <= 0) return;
  multinomial_nll_backward_kernel<<<static_cast<unsigned>(R), kRowThreads, 0, detail::stream()>>>(
      logits, W, c0, C, Csr{rowPtr, cols, values}, nnz, lse, dloss, dlogits, accumulate,
      detail::device_status());
  check_last("multinomial_nll_backward");
}

}  // namespace cuda
