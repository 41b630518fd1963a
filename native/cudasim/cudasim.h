// The device side of the CUDA simulator: what a kernel body sees (thread and block
// indices, warp intrinsics, barriers, shared memory, atomics, device math) when
// native/cuda is compiled as plain C++ and every CUDA thread runs as a fiber.
// Included through the fake <cuda_runtime.h>; never part of the GPU build.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#ifndef CLLM4REC_CUDASIM
#define CLLM4REC_CUDASIM 1
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __constant__ static
#define __align__(n) alignas(n)

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

namespace cudasim {

// Per-CUDA-thread state the kernel reads through threadIdx & co.
struct ThreadVars {
  uint3 tid;
  uint3 bid;
  dim3 bdim;
  dim3 gdim;
};
extern thread_local ThreadVars* tls_vars;

// Resolves one warp-collective op once every lane of `mask` has arrived: lanes[i] is
// lane i's payload (null for lanes outside the mask).
using CollectiveFn = void (*)(void* const* lanes, unsigned mask);

// Parks the calling lane at a warp op named `op` until all lanes of `mask` arrive at
// the same op with the same mask; a missing, exited or differently-occupied lane is
// reported as a launch failure (the fiber never resumes then).
void collective(const char* op, unsigned mask, void* payload, CollectiveFn fn);
// __syncthreads: all threads of the block at the same call site, none exited.
void syncthreads(const char* file, int line);
// Stops the kernel with a launch failure naming the current thread.
[[noreturn]] void fail(const char* fmt, ...);
// The calling thread's lane id (0..31).
int lane_id();

// Per-block shared memory: every thread makes the same sequence of calls, so the k-th
// call of each thread returns the same address (poisoned at block start).
void* shared_alloc(size_t bytes, size_t align);
void* dynamic_shared();
// 16-byte alignment at least, as for the GPU's 128-bit shared accesses and cp.async.
template <class A> A& shared() {
  return *static_cast<A*>(shared_alloc(sizeof(A), alignof(A) < 16 ? 16 : alignof(A)));
}

// cp.async: a copy queued by this thread, done when its group is waited for.
void async_copy(void* dst_shared, const void* src, int bytes);
void async_commit();
void async_wait(int pending);

template <class T> inline uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T> inline T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

struct ShflPayload {
  uint64_t value;
  uint64_t result;
  int src;  // lane to read from
};
void shfl_resolve(void* const* lanes, unsigned mask);
uint64_t shfl(const char* op, unsigned mask, uint64_t value, int src);

struct VotePayload {
  int pred;
  unsigned result;
};
void ballot_resolve(void* const* lanes, unsigned mask);
void syncwarp_resolve(void* const* lanes, unsigned mask);

// Kernel launch: `K<<<grid, block, smem, stream>>>(args)` is rewritten by the build
// step (scripts/build_cudasim.js) into launch("K", K, cfg(grid, block, smem, stream), args).
struct LaunchCfg {
  dim3 grid, block;
  size_t smem;
  void* stream;
};
inline LaunchCfg cfg(dim3 g, dim3 b, size_t smem = 0, void* stream = nullptr) {
  return LaunchCfg{g, b, smem, stream};
}
template <class S> inline LaunchCfg cfg(dim3 g, dim3 b, size_t smem, S* stream) {
  return LaunchCfg{g, b, smem, static_cast<void*>(stream)};
}
void run_kernel(const char* name, const void* kernel, const LaunchCfg& c, void (*body)(void*),
                void* ctx);

template <class... P, class... A>
void launch(const char* name, void (*k)(P...), const LaunchCfg& c, A&&... a) {
  struct Ctx {
    void (*k)(P...);
    std::tuple<std::decay_t<P>...> args;
  } ctx{k, std::tuple<std::decay_t<P>...>(static_cast<std::decay_t<P>>(a)...)};
  // Each thread gets its own copy of the parameters, as on the GPU.
  run_kernel(name, reinterpret_cast<const void*>(k), c,
             [](void* p) {
               Ctx& x = *static_cast<Ctx*>(p);
               std::tuple<std::decay_t<P>...> mine = x.args;
               std::apply(x.k, mine);
             },
             &ctx);
}

}  // namespace cudasim

#define threadIdx (::cudasim::tls_vars->tid)
#define blockIdx (::cudasim::tls_vars->bid)
#define blockDim (::cudasim::tls_vars->bdim)
#define gridDim (::cudasim::tls_vars->gdim)
constexpr int warpSize = 32;

#define __syncthreads() ::cudasim::syncthreads(__FILE__, __LINE__)
#define __trap() ::cudasim::fail("__trap() at %s:%d", __FILE__, __LINE__)

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ::cudasim::collective("__syncwarp", mask, nullptr, ::cudasim::syncwarp_resolve);
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  ::cudasim::VotePayload p{pred != 0, 0};
  ::cudasim::collective("__ballot_sync", mask, &p, ::cudasim::ballot_resolve);
  return p.result;
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) {
  return __ballot_sync(mask, pred) == __ballot_sync(mask, 1);
}
// The source lane of each shuffle follows the CUDA rules for `width`; reading a lane
// outside the mask yields a poison value (NaN for floats), as it is undefined on the GPU.
template <class T> inline T __shfl_sync(unsigned mask, T v, int srcLane, int width = 32) {
  const int lane = ::cudasim::lane_id();
  const int src = (lane & ~(width - 1)) + (srcLane & (width - 1));
  return ::cudasim::from_bits<T>(::cudasim::shfl("__shfl_sync", mask, ::cudasim::to_bits(v), src));
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32) {
  const int lane = ::cudasim::lane_id();
  int src = lane ^ laneMask;
  if (src >= ((lane & ~(width - 1)) + width)) src = lane;
  return ::cudasim::from_bits<T>(
      ::cudasim::shfl("__shfl_xor_sync", mask, ::cudasim::to_bits(v), src));
}
template <class T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = ::cudasim::lane_id();
  const int src = (lane & (width - 1)) + int(delta) >= width ? lane : lane + int(delta);
  return ::cudasim::from_bits<T>(
      ::cudasim::shfl("__shfl_down_sync", mask, ::cudasim::to_bits(v), src));
}
template <class T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = ::cudasim::lane_id();
  const int src = (lane & (width - 1)) - int(delta) < 0 ? lane : lane - int(delta);
  return ::cudasim::from_bits<T>(::cudasim::shfl("__shfl_up_sync", mask, ::cudasim::to_bits(v), src));
}

inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }

// Atomics: the GCC builtins, so blocks may run on several host threads.
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned* p, unsigned v) {
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
inline float atomicAdd(float* p, float v) {
  float old = *p;
  for (;;) {
    float want = old + v;
    if (__atomic_compare_exchange(p, &old, &want, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
      return old;
  }
}
inline double atomicAdd(double* p, double v) {
  double old = *p;
  for (;;) {
    double want = old + v;
    if (__atomic_compare_exchange(p, &old, &want, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
      return old;
  }
}
template <class T> inline T atomic_min_max(T* p, T v, bool isMin) {
  T old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while ((isMin ? v < old : v > old) &&
         !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
inline int atomicMin(int* p, int v) { return atomic_min_max(p, v, true); }
inline unsigned atomicMin(unsigned* p, unsigned v) { return atomic_min_max(p, v, true); }
inline int atomicMax(int* p, int v) { return atomic_min_max(p, v, false); }
inline unsigned atomicMax(unsigned* p, unsigned v) { return atomic_min_max(p, v, false); }
inline int atomicExch(int* p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicExch(unsigned* p, unsigned v) {
  return __atomic_exchange_n(p, v, __ATOMIC_RELAXED);
}
inline int atomicCAS(int* p, int cmp, int v) {
  __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return cmp;
}
inline unsigned atomicCAS(unsigned* p, unsigned cmp, unsigned v) {
  __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return cmp;
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// Device math that CUDA has and host C++ spells differently (the rest is <cmath>).
template <class A, class B> inline auto min(A a, B b) -> std::common_type_t<A, B> {
  return b < a ? b : a;
}
template <class A, class B> inline auto max(A a, B b) -> std::common_type_t<A, B> {
  return a < b ? b : a;
}
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline unsigned __cvta_generic_to_shared(const void* p) {
  return static_cast<unsigned>(reinterpret_cast<uintptr_t>(p));
}
