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

// Block-wide sum in a fixed order (deterministic for a fixed blockDim); every thread
// gets the result. `shared` needs blockDim.x/32 slots; blockDim.x a multiple of 32.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // the slots may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  T r = lane < nwarps ? shared[lane] : T(0);
  return warp_sum(r);
}

__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float r = lane < nwarps ? shared[lane] : -INFINITY;
  return warp_max(r);
}

}  // namespace detail
}  // namespace cuda
