// Self-test of the simulator and of device code the addon cannot reach directly:
// block reductions at any block size, the strict checks (each bad kernel must fail
// with its message), memory poison and canaries, and the caching allocator's
// empty_cache under a failing cudaFree. Built and run by `npm run test:cuda-sim`.
//   cudasim-selftest            every case
//   cudasim-selftest device-error   cudaGetDeviceCount fails: the cause is reported
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common.cuh"
#include "mma.cuh"

namespace {

int g_failures = 0, g_checks = 0;

#define EXPECT(cond, ...)                                         \
  do {                                                            \
    ++g_checks;                                                   \
    if (!(cond)) {                                                \
      ++g_failures;                                               \
      std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::printf(__VA_ARGS__);                                   \
      std::printf("\n");                                          \
    }                                                             \
  } while (0)

// The launch error text since the last call ("" when none).
std::string launch_error() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? std::string() : std::string(cudaGetErrorString(e));
}

[[maybe_unused]] void expect_failure(const char* what, const char* needle) {
  const std::string err = launch_error();
  EXPECT(err.find(needle) != std::string::npos, "%s: expected an error containing '%s', got '%s'",
         what, needle, err.c_str());
}

template <class T> T* device(const std::vector<T>& host) {
  void* p = nullptr;
  cudaMalloc(&p, host.size() * sizeof(T));
  cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  return static_cast<T*>(p);
}
template <class T> std::vector<T> host(const T* p, size_t n) {
  std::vector<T> h(n);
  cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost);
  return h;
}

// ------------------------------------------------------------ block reductions

__global__ void block_sum_kernel(const double* x, int n, double* out, float* outMax) {
  __shared__ double sd[32];
  __shared__ float sf[32];
  double acc = 0;
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    acc += x[i];
    mx = fmaxf(mx, float(x[i]));
  }
  out[threadIdx.x] = cuda::detail::block_sum(acc, sd);
  outMax[threadIdx.x] = cuda::detail::block_max(mx, sf);
}

void test_block_reductions() {
  const int n = 3001;
  std::vector<double> x(n);
  double want = 0;
  float wantMax = -INFINITY;
  for (int i = 0; i < n; ++i) {
    x[i] = double((i * 37) % 101) - 50;  // integers: every order sums exactly
    want += x[i];
    wantMax = std::max(wantMax, float(x[i]));
  }
  double* dx = device(x);
  for (int threads : {1, 7, 31, 32, 33, 100, 256, 500, 1000, 1024}) {
    double* dout = device(std::vector<double>(threads, 0.0));
    float* dmax = device(std::vector<float>(threads, 0.0f));
    block_sum_kernel<<<1, threads>>>(dx, n, dout, dmax);
    const std::string err = launch_error();
    EXPECT(err.empty(), "block_sum with %d threads: %s", threads, err.c_str());
    const std::vector<double> got = host(dout, threads);
    const std::vector<float> gotMax = host(dmax, threads);
    for (int t = 0; t < threads; ++t) {
      EXPECT(got[t] == want, "block_sum, %d threads: thread %d got %g, want %g", threads, t, got[t], want);
      EXPECT(gotMax[t] == wantMax, "block_max, %d threads: thread %d got %g, want %g", threads, t,
             double(gotMax[t]), double(wantMax));
      if (got[t] != want || gotMax[t] != wantMax) break;
    }
    cudaFree(dout);
    cudaFree(dmax);
  }
  cudaFree(dx);
}


// ------------------------------------------------------------ tensor-core / async-copy intrinsics

// Host reference values: random multiples of 1/8 in [-2, 2], exact in tf32, bf16 and f16,
// so every product and every sum of up to 16 of them is exact in fp32 whatever the order.
struct Lcg {
  uint64_t s;
  float next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return float(int((s >> 33) % 33) - 16) / 8.0f;
  }
};
uint16_t to_bf16_bits(float f) {  // exact for the grid values above
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return uint16_t(b >> 16);
}
uint16_t to_f16_bits(float f) {  // exact for the grid values above (normal or zero)
  uint32_t b;
  std::memcpy(&b, &f, 4);
  const uint16_t sign = uint16_t((b >> 16) & 0x8000u);
  if ((b & 0x7fffffffu) == 0) return sign;
  const int exp = int((b >> 23) & 0xff) - 127 + 15;
  return uint16_t(sign | (exp << 10) | ((b >> 13) & 0x3ff));
}

// One warp: A [16, K] and B [K, 8] row-major in global memory, C/D [16, 8].
// TF32 loads its fragments by the layout table; BF16/F16 go through shared memory
// and ldmatrix (x4 for A, x2.trans for B), as a GEMM would.
template <int Kind>
__global__ void mma_kernel(const float* A, const uint16_t* A16, const float* B, const uint16_t* B16,
                           const float* C, float* D) {
  __shared__ __align__(16) uint16_t As[16][16];
  __shared__ __align__(16) uint16_t Bs[16][8];
  const int lane = threadIdx.x, gid = lane >> 2, tig = lane & 3;
  uint32_t a[4], b[2];
  float c[4], d[4];
  for (int i = 0; i < 4; ++i) c[i] = C[(gid + (i >= 2 ? 8 : 0)) * 8 + tig * 2 + (i & 1)];
  if (Kind == 0) {
    for (int i = 0; i < 4; ++i)
      a[i] = cuda::mma::to_tf32(A[(gid + ((i & 1) ? 8 : 0)) * 8 + tig + (i >= 2 ? 4 : 0)]);
    for (int i = 0; i < 2; ++i) b[i] = cuda::mma::to_tf32(B[(tig + (i ? 4 : 0)) * 8 + gid]);
    cuda::mma::mma_m16n8k8_tf32(d, a, b, c);
  } else {
    for (int e = lane; e < 256; e += 32) As[e / 16][e % 16] = A16[e];
    for (int e = lane; e < 128; e += 32) Bs[e / 8][e % 8] = B16[e];
    __syncwarp();
    cuda::mma::ldmatrix<4, false>(a, &As[lane % 16][(lane / 16) * 8]);
    cuda::mma::ldmatrix<2, true>(b, &Bs[lane % 16][0]);
    if (Kind == 1)
      cuda::mma::mma_m16n8k16_bf16(d, a, b, c);
    else
      cuda::mma::mma_m16n8k16_f16(d, a, b, c);
  }
  for (int i = 0; i < 4; ++i) D[(gid + (i >= 2 ? 8 : 0)) * 8 + tig * 2 + (i & 1)] = d[i];
}

template <int Kind> void test_mma_kind(const char* name, uint64_t seed) {
  const int K = Kind == 0 ? 8 : 16;
  Lcg r{seed};
  std::vector<float> A(16 * K), B(K * 8), C(16 * 8);
  std::vector<uint16_t> A16(16 * 16, 0), B16(16 * 8, 0);
  for (float& v : A) v = r.next();
  for (float& v : B) v = r.next();
  for (float& v : C) v = r.next();
  for (int i = 0; i < 16 * K && Kind; ++i) A16[i] = Kind == 1 ? to_bf16_bits(A[i]) : to_f16_bits(A[i]);
  for (int i = 0; i < K * 8 && Kind; ++i) B16[i] = Kind == 1 ? to_bf16_bits(B[i]) : to_f16_bits(B[i]);
  float *dA = device(A), *dB = device(B), *dC = device(C), *dD = device(std::vector<float>(128, 0.0f));
  uint16_t *dA16 = device(A16), *dB16 = device(B16);
  mma_kernel<Kind><<<1, 32>>>(dA, dA16, dB, dB16, dC, dD);
  const std::string err = launch_error();
  EXPECT(err.empty(), "%s: %s", name, err.c_str());
  const std::vector<float> got = host(dD, 128);
  int bad = 0;
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      float want = C[m * 8 + n];
      for (int k = 0; k < K; ++k) want += A[m * K + k] * B[k * 8 + n];
      if (got[m * 8 + n] != want && bad++ < 3)
        EXPECT(false, "%s: D[%d][%d] = %g, want %g", name, m, n, double(got[m * 8 + n]), double(want));
    }
  EXPECT(bad == 0, "%s: %d of 128 outputs differ from the CPU product", name, bad);
  for (void* p : {static_cast<void*>(dA), static_cast<void*>(dB), static_cast<void*>(dC),
                  static_cast<void*>(dD), static_cast<void*>(dA16), static_cast<void*>(dB16)})
    cudaFree(p);
}

// Each lane's registers from ldmatrix against the documented distribution.
template <int Count, bool Trans>
__global__ void ldmatrix_kernel(const uint16_t* M, uint32_t* out) {
  __shared__ __align__(16) uint16_t S[32][8];  // 4 matrices of 8 rows
  for (int e = threadIdx.x; e < 256; e += 32) S[e / 8][e % 8] = M[e];
  __syncwarp();
  uint32_t r[Count];
  cuda::mma::ldmatrix<Count, Trans>(r, &S[threadIdx.x % (8 * Count)][0]);
  for (int m = 0; m < Count; ++m) out[threadIdx.x * 4 + m] = r[m];
}

template <int Count, bool Trans> void test_ldmatrix_variant() {
  std::vector<uint16_t> M(256);
  for (int i = 0; i < 256; ++i) M[i] = uint16_t(i * 7 + 3);
  uint16_t* dM = device(M);
  uint32_t* dOut = device(std::vector<uint32_t>(128, 0));
  ldmatrix_kernel<Count, Trans><<<1, 32>>>(dM, dOut);
  const std::string err = launch_error();
  EXPECT(err.empty(), "ldmatrix x%d%s: %s", Count, Trans ? ".trans" : "", err.c_str());
  const std::vector<uint32_t> got = host(dOut, 128);
  int bad = 0;
  for (int l = 0; l < 32; ++l)
    for (int m = 0; m < Count; ++m) {
      const int r = l / 4, c = (l % 4) * 2;
      auto at = [&](int row, int col) { return uint32_t(M[(m * 8 + row) * 8 + col]); };
      const uint32_t want = Trans ? (at(c, r) | (at(c + 1, r) << 16)) : (at(r, c) | (at(r, c + 1) << 16));
      bad += got[l * 4 + m] != want;
    }
  EXPECT(bad == 0, "ldmatrix x%d%s: %d registers differ from the PTX layout", Count,
         Trans ? ".trans" : "", bad);
  cudaFree(dM);
  cudaFree(dOut);
}

// cp.async of 4/8/16 bytes in two groups: each group lands only once waited for.
template <int Bytes>
__global__ void cp_async_kernel(const float* src, float* before, float* mid, float* after) {
  constexpr int kFloats = Bytes / 4;
  __shared__ __align__(16) float S[2][32 * 4];
  const int t = threadIdx.x;
  cuda::mma::cp_async<Bytes>(&S[0][t * kFloats], src + t * kFloats);
  cuda::mma::cp_async_commit();
  cuda::mma::cp_async<Bytes>(&S[1][t * kFloats], src + 128 + t * kFloats);
  cuda::mma::cp_async_commit();
  before[t] = S[0][t * kFloats];  // not yet waited for: undefined (poison in the simulator)
  cuda::mma::cp_async_wait<1>();  // the first group is complete
  mid[t] = S[0][t * kFloats];
  cuda::mma::cp_async_wait<0>();
  after[t] = S[1][t * kFloats + kFloats - 1];
}

template <int Bytes> void test_cp_async_size() {
  std::vector<float> src(256);
  for (int i = 0; i < 256; ++i) src[i] = float(i) + 0.5f;
  float* dSrc = device(src);
  float *dBefore = device(std::vector<float>(32, 0.0f)), *dMid = device(std::vector<float>(32, 0.0f)),
        *dAfter = device(std::vector<float>(32, 0.0f));
  cp_async_kernel<Bytes><<<1, 32>>>(dSrc, dBefore, dMid, dAfter);
  const std::string err = launch_error();
  EXPECT(err.empty(), "cp.async %d: %s", Bytes, err.c_str());
  const std::vector<float> before = host(dBefore, 32), mid = host(dMid, 32), after = host(dAfter, 32);
  const int kFloats = Bytes / 4;
  for (int t = 0; t < 32; ++t) {
    EXPECT(mid[t] == src[t * kFloats], "cp.async %d lane %d: group 0 after wait_group 1", Bytes, t);
    EXPECT(after[t] == src[128 + t * kFloats + kFloats - 1], "cp.async %d lane %d: group 1 after wait_group 0", Bytes, t);
#ifdef CLLM4REC_CUDASIM
    EXPECT(std::isnan(before[t]), "cp.async %d lane %d: visible before any wait", Bytes, t);
#endif
  }
  for (void* p : {static_cast<void*>(dSrc), static_cast<void*>(dBefore), static_cast<void*>(dMid),
                  static_cast<void*>(dAfter)})
    cudaFree(p);
}

void test_intrinsics() {
  for (uint64_t seed : {1, 2, 3}) {
    test_mma_kind<0>("mma m16n8k8 tf32", seed);
    test_mma_kind<1>("mma m16n8k16 bf16", seed);
    test_mma_kind<2>("mma m16n8k16 f16", seed);
  }
  test_ldmatrix_variant<1, false>();
  test_ldmatrix_variant<2, false>();
  test_ldmatrix_variant<4, false>();
  test_ldmatrix_variant<1, true>();
  test_ldmatrix_variant<2, true>();
  test_ldmatrix_variant<4, true>();
  test_cp_async_size<4>();
  test_cp_async_size<8>();
  test_cp_async_size<16>();
}

#ifdef CLLM4REC_CUDASIM
// ------------------------------------------------------------ strict checks (simulator)

__global__ void divergent_barrier_kernel() {
  if (threadIdx.x < 16)
    __syncthreads();
  else
    __syncthreads();
}
__global__ void exit_before_barrier_kernel() {
  if (threadIdx.x == 5) return;
  __syncthreads();
}
__global__ void exited_lane_kernel(float* out) {
  float v = float(threadIdx.x);
  if (threadIdx.x == 3) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, v, 1);
}
__global__ void full_mask_kernel(float* out) {
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, float(threadIdx.x), 1);
}
__global__ void mixed_warp_ops_kernel(unsigned* out) {
  if (threadIdx.x < 16)
    __syncwarp();
  else
    out[threadIdx.x] = __ballot_sync(0xffffffffu, 1);
}
__global__ void warp_op_vs_barrier_kernel(float* out) {
  if (threadIdx.x == 0)
    __syncthreads();
  else
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}
__global__ void lane_not_in_mask_kernel(float* out) {
  out[threadIdx.x] = __shfl_xor_sync(0x0000ffffu, 1.0f, 1);
}
__global__ void nothing_kernel(float* out) {
  if (out) out[0] = 1.0f;
}
__global__ void big_static_smem_kernel(float* out) {
  __shared__ float big[13 * 1024];  // 52 KiB of static shared memory: over the 48 KiB limit
  big[threadIdx.x] = 1.0f;
  out[0] = big[0];
}
__global__ void dynamic_smem_kernel(float* out, int n) {
  extern __shared__ float dyn[];
  for (int i = threadIdx.x; i < n; i += blockDim.x) dyn[i] = float(i);
  __syncthreads();
  if (threadIdx.x == 0) out[0] = dyn[n - 1];
}
__global__ void overrun_kernel(float* p, int n) {
  if (threadIdx.x == 0) p[n] = 1.0f;  // one past the end
}
__global__ void uninitialized_shared_kernel(float* out) {
  __shared__ float s[64];
  out[threadIdx.x] = s[threadIdx.x];
}
__global__ void racy_kernel(float* out) {  // a missing __syncthreads between write and read
  __shared__ float s[64];
  s[threadIdx.x] = 1.0f;
  out[threadIdx.x] = s[(threadIdx.x + 1) % 64];
}
__global__ void ballot_shfl_kernel(unsigned* ballots, float* down, float* up, float* idx) {
  const int lane = threadIdx.x & 31;
  ballots[threadIdx.x] = __ballot_sync(0xffffffffu, lane % 3 == 0);
  down[threadIdx.x] = __shfl_down_sync(0xffffffffu, float(lane), 5);
  up[threadIdx.x] = __shfl_up_sync(0xffffffffu, float(lane), 3);
  idx[threadIdx.x] = __shfl_sync(0xffffffffu, float(lane), 7, 16);
}

void test_strict_checks() {
  float* buf = nullptr;
  cudaMalloc(reinterpret_cast<void**>(&buf), 2048 * sizeof(float));

  divergent_barrier_kernel<<<1, 64>>>();
  expect_failure("__syncthreads at two call sites", "barrier divergence");
  exit_before_barrier_kernel<<<1, 64>>>();
  expect_failure("a thread exits before __syncthreads", "has exited");
  exited_lane_kernel<<<1, 32>>>(buf);
  expect_failure("a lane exits before a full-mask shuffle", "has exited");
  full_mask_kernel<<<1, 48>>>(buf);
  expect_failure("48-thread block, full-mask shuffle", "do not exist");
  mixed_warp_ops_kernel<<<1, 32>>>(reinterpret_cast<unsigned*>(buf));
  expect_failure("__syncwarp and __ballot_sync in one warp", "mixed warp ops");
  warp_op_vs_barrier_kernel<<<1, 32>>>(buf);
  expect_failure("a lane at __syncthreads while the warp shuffles", "waits at __syncthreads");
  lane_not_in_mask_kernel<<<1, 32>>>(buf);
  expect_failure("a lane outside its own mask", "not in the mask");

  nothing_kernel<<<1, 1025>>>(buf);
  expect_failure("1025 threads per block", "at most 1024");
  nothing_kernel<<<dim3(1, 65536), 32>>>(buf);
  expect_failure("gridDim.y = 65536", "65535");
  nothing_kernel<<<dim3(1, 1, 65536), 32>>>(buf);
  expect_failure("gridDim.z = 65536", "65535");
  nothing_kernel<<<dim3(1, 65535, 1), 1>>>(nullptr);
  EXPECT(launch_error().empty(), "gridDim.y = 65535 is legal");
  big_static_smem_kernel<<<1, 32>>>(buf);
  expect_failure("52 KiB of static shared memory", "exceeds");
  const int n = 16 * 1024;  // 64 KiB of dynamic shared memory
  dynamic_smem_kernel<<<1, 256, n * sizeof(float)>>>(buf, n);
  expect_failure("64 KiB of dynamic shared memory without opt-in", "cudaFuncSetAttribute");
  cudaFuncSetAttribute(dynamic_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, n * 4);
  dynamic_smem_kernel<<<1, 256, n * sizeof(float)>>>(buf, n);
  EXPECT(launch_error().empty(), "64 KiB of dynamic shared memory after opt-in");
  EXPECT(host(buf, 1)[0] == float(n - 1), "dynamic shared memory contents");

#if defined(__SANITIZE_ADDRESS__)
  // No canaries under ASan: ASan itself aborts at the overrun (a heap-buffer-overflow report).
  std::printf("cudasim-selftest: canary check skipped under ASan, which reports overruns itself\n");
#else
  float* small = nullptr;
  cudaMalloc(reinterpret_cast<void**>(&small), 10 * sizeof(float));
  overrun_kernel<<<1, 32>>>(small, 10);
  expect_failure("a write one past a 40-byte allocation", "wrote past the end");
  cudaFree(small);
#endif

  // Fresh device memory and shared memory are poison (0xFF: NaN as float).
  float* fresh = nullptr;
  cudaMalloc(reinterpret_cast<void**>(&fresh), 64 * sizeof(float));
  std::vector<float> h = host(fresh, 64);
  unsigned bits;
  std::memcpy(&bits, &h[17], 4);
  EXPECT(bits == 0xffffffffu, "fresh device memory is 0xFF, got 0x%08x", bits);
  uninitialized_shared_kernel<<<1, 64>>>(fresh);
  EXPECT(launch_error().empty(), "reading uninitialized shared memory is legal");
  h = host(fresh, 64);
  EXPECT(std::isnan(h[0]) && std::isnan(h[63]), "uninitialized shared memory reads NaN");
  racy_kernel<<<1, 64>>>(fresh);
  EXPECT(launch_error().empty(), "the racy kernel runs");
  h = host(fresh, 64);
  int nans = 0;
  for (float v : h) nans += std::isnan(v);
  EXPECT(nans > 0, "a missing barrier reads unwritten (NaN) shared memory under every schedule");
  cudaFree(fresh);

  // Shuffle and ballot semantics, two warps.
  unsigned* ballots = nullptr;
  float *down = nullptr, *up = nullptr, *idx = nullptr;
  cudaMalloc(reinterpret_cast<void**>(&ballots), 64 * 4);
  cudaMalloc(reinterpret_cast<void**>(&down), 64 * 4);
  cudaMalloc(reinterpret_cast<void**>(&up), 64 * 4);
  cudaMalloc(reinterpret_cast<void**>(&idx), 64 * 4);
  ballot_shfl_kernel<<<1, 64>>>(ballots, down, up, idx);
  EXPECT(launch_error().empty(), "ballot/shuffle kernel");
  const std::vector<unsigned> hb = host(ballots, 64);
  const std::vector<float> hd = host(down, 64), hu = host(up, 64), hi = host(idx, 64);
  unsigned want = 0;
  for (int l = 0; l < 32; l += 3) want |= 1u << l;
  for (int t = 0; t < 64; ++t) {
    const int l = t & 31;
    EXPECT(hb[t] == want, "ballot lane %d: 0x%08x", t, hb[t]);
    EXPECT(hd[t] == float(l + 5 < 32 ? l + 5 : l), "shfl_down lane %d: %g", t, double(hd[t]));
    EXPECT(hu[t] == float(l >= 3 ? l - 3 : l), "shfl_up lane %d: %g", t, double(hu[t]));
    EXPECT(hi[t] == float((l & ~15) + 7), "shfl width 16 lane %d: %g", t, double(hi[t]));
  }
  for (void* p : {static_cast<void*>(ballots), static_cast<void*>(down), static_cast<void*>(up),
                  static_cast<void*>(idx), static_cast<void*>(buf)})
    cudaFree(p);
}

// ------------------------------------------------------------ allocator

void test_empty_cache_with_failing_free() {
  cuda::empty_cache();
  void* a = cuda::alloc(1000);
  void* b = cuda::alloc(5000);
  void* c = cuda::alloc(70000);
  cuda::release(a, 1000);
  cuda::release(b, 5000);
  cuda::release(c, 70000);
  const size_t before = cuda::cached_bytes();
  cudasim::inject_free_failure(2);  // the first block is freed, the second refuses
  bool threw = false;
  try {
    cuda::empty_cache();
  } catch (const std::exception& e) {
    threw = std::strstr(e.what(), "cudaFree") != nullptr;
  }
  EXPECT(threw, "a failing cudaFree is reported by empty_cache");
  const size_t left = cuda::cached_bytes();
  EXPECT(left < before && left > 0, "cache holds exactly the blocks not freed: %zu of %zu", left, before);
  launch_error();  // the injected failure is the runtime's last error; clear it
  bool ok = true;
  try {
    cuda::empty_cache();  // must not free the already freed block again
  } catch (const std::exception& e) {
    ok = false;
    std::printf("  second empty_cache: %s\n", e.what());
  }
  EXPECT(ok, "a second empty_cache frees the rest without a double free");
  EXPECT(cuda::cached_bytes() == 0, "cache empty, %zu bytes left", cuda::cached_bytes());
}
#endif  // CLLM4REC_CUDASIM

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "all";
  if (mode == "device-error") {
#ifdef CLLM4REC_CUDASIM
    cudasim::inject_device_count_error(cudaErrorInsufficientDriver);
#endif
    EXPECT(cuda::device_count() == 0, "no device");
    EXPECT(std::strstr(cuda::device_error(), "cudaErrorInsufficientDriver") != nullptr,
           "device_error names the cause: '%s'", cuda::device_error());
    std::string msg;
    try {
      cuda::alloc(4);
    } catch (const std::exception& e) {
      msg = e.what();
    }
    EXPECT(msg.find("cudaErrorInsufficientDriver") != std::string::npos, "alloc error: '%s'", msg.c_str());
  } else {
    EXPECT(cuda::device_count() == 1, "one device");
    test_block_reductions();
    test_intrinsics();
#ifdef CLLM4REC_CUDASIM
    test_strict_checks();
    test_empty_cache_with_failing_free();
#endif
  }
  std::printf("cudasim-selftest %s: %d checks, %d failed\n", mode.c_str(), g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
