// Shared helpers for the CUDA kernels: the one stream, error checks, launch sizing,
// warp/block reductions and stream-ordered scratch memory from the caching allocator.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include <cmath>
#include <string>
#include <stdexcept>
#include "kernels.h"

namespace cuda {
namespace detail {

// The single non-default stream every kernel and copy is issued on.
cudaStream_t stream();

// Throws std::runtime_error("<what>: <cuda error string>") when e is not cudaSuccess.
void check(cudaError_t e, const char* what);

constexpr int kThreads = 256;

// Bad input values a kernel finds itself (a cross-entropy target >= C). The first one is
// recorded here on the device and thrown by the next sync (copy_d2h, synchronize,
// CLLM4REC_SYNC=1) as std::out_of_range naming the op, row and value: no per-call copy.
struct DeviceStatus {
  unsigned flag;  // 0 until a kernel records a bad value
  int op;         // a DeviceCheck
  int value;
  int kind;       // a BadValue
  long long row, limit;
};
enum DeviceCheck : int {
  kCheckCrossEntropyForward = 1,
  kCheckCrossEntropyBackward = 2,
  kCheckMultinomialNllForward = 3,
  kCheckMultinomialNllBackward = 4,
};
// What was wrong with the value: a target or column outside [0, limit), a column not above
// the previous one of its row, a CSR row pointer out of order or past nnz (= limit).
enum BadValue : int { kBadColumn = 0, kColumnOrder = 1, kBadRowPointer = 2 };

// The status block for the next launch; marks it due to be read at the next sync.
DeviceStatus* device_status();

// Records (row, value) unless an earlier bad value is already recorded (stream order
// makes the earliest launch win; within a launch, any of its bad rows).
__device__ __forceinline__ void report_bad_value(DeviceStatus* st, int op, long long row,
                                                 int value, long long limit, int kind = kBadColumn) {
  if (atomicCAS(&st->flag, 0u, 1u) != 0u) return;
  st->op = op;
  st->value = value;
  st->kind = kind;
  st->row = row;
  st->limit = limit;
}

// GELU, tanh approximation (GPT-2's gelu_new): gelu_forward and the GEMMs' GELU epilogue
// share it, so the fused linear -> GELU computes what the two kernels compute.
__device__ __forceinline__ float gelu_tanh(float v) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f, kCubic = 0.044715f;
  return 0.5f * v * (1.0f + tanhf(kSqrt2OverPi * (v + kCubic * v * v * v)));
}

// Blocks for a grid-stride loop over n elements; capped because the loop covers the rest.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  if (b > (1 << 20)) b = 1 << 20;
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

// Stream-ordered temporary buffer: released to the cache at scope end, which is safe
// because any later reuse is ordered after this kernel on the same stream.
class Scratch {
 public:
  explicit Scratch(size_t bytes) : bytes_(bytes), p_(cuda::alloc(bytes)) {}
  ~Scratch() {
    try {
      cuda::release(p_, bytes_);
    } catch (...) {
    }
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T> T* as() const { return static_cast<T*>(p_); }

 private:
  size_t bytes_;
  void* p_;
};

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

struct SumOp {
  template <class T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Reduction over the `width` lanes present in this warp (a block's last warp may be
// partial); the result is in lane 0. Lanes past `width` do not exist, so the mask
// names only present lanes and their shuffled values are never used.
template <class T, class Op>
__device__ __forceinline__ T warp_reduce_present(T v, int width, Op op) {
  const unsigned mask = width >= 32 ? 0xffffffffu : (1u << width) - 1u;
  const int lane = threadIdx.x & 31;
  for (int o = 16; o > 0; o >>= 1) {
    const T other = __shfl_down_sync(mask, v, o);
    if (lane + o < width) v = op(v, other);
  }
  return v;
}

// Block-wide reduction in a fixed order (deterministic for a fixed blockDim); every
// thread gets the same result. `shared` needs one slot per warp (32 covers 1,024
// threads). 1-D blocks of any size: a multiple of 32 takes the butterfly path, others
// fold each warp's value from lane 0 and every thread sums the slots in order.
template <class T, class Op>
__device__ __forceinline__ T block_reduce(T v, T* shared, T identity, Op op) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int nthreads = blockDim.x, nwarps = (nthreads + 31) >> 5;
  if (nthreads % 32 == 0) {  // block-uniform
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();  // the slots may still be read by a previous call
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    T r = lane < nwarps ? shared[lane] : identity;
    for (int o = 16; o > 0; o >>= 1) r = op(r, __shfl_xor_sync(0xffffffffu, r, o));
    return r;
  }
  v = warp_reduce_present(v, min(32, nthreads - warp * 32), op);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  T r = shared[0];
  for (int k = 1; k < nwarps; ++k) r = op(r, shared[k]);
  return r;
}

template <class T> __device__ __forceinline__ T block_sum(T v, T* shared) {
  return block_reduce(v, shared, T(0), SumOp());
}

__device__ __forceinline__ float block_max(float v, float* shared) {
  return block_reduce(v, shared, -INFINITY, MaxOp());
}

}  // namespace detail
}  // namespace cuda
