// Thread count for the CPU kernels: one OpenMP team shared by every kernel, and the
// arithmetic peak that team measures (the bench holds the GEMMs to it).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CLLM4REC_X86 1
#endif

#include "kernels.h"
#include "kernels_cpu.h"
#include "simd.h"

namespace cpu {

void set_num_threads(int n) { omp_set_num_threads(n > 0 ? n : omp_get_num_procs()); }

int num_threads() { return omp_get_max_threads(); }

// ---- the measured peak of the team
// Measured arithmetic peak of this CPU: every thread runs long chains of independent
// vector FMAs (enough accumulators to cover the FMA latency on both pipes), and the
// FLOP count over the wall time of the whole team is the peak the GEMMs are held to.
// A spec-derived peak (cores x clock x units x lanes) misses boost clocks and CPUs that
// split 512-bit FMAs into halves; this measures what the core actually retires.
namespace {

// Independent chains: latency 4 x 2 pipes needs at least 8. AVX-512 has 32 vector
// registers, AVX2 only 16: 16 ymm chains plus the two operands spill to the stack, and the
// loop then measured 98 GFLOP/s on a 2-core Zen 3 where 12 chains (operands in registers)
// reach 184-192, above what the AVX2 GEMM runs at (126): a peak the GEMM exceeds is no peak.
constexpr int kAcc = 16;
constexpr int kAccAvx2 = 12;

#ifdef CLLM4REC_X86
__attribute__((target("avx512f,fma"), noinline)) float fma_loop_avx512(int64_t iters, float seed) {
  __m512 acc[kAcc];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(seed * 1e-7f);
#pragma GCC unroll 16
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(seed + i);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 16
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512bf16"), noinline)) float bf16_loop_avx512(int64_t iters, float seed) {
  __m512 acc[kAcc];
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);
#pragma GCC unroll 16
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(seed + i);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 16
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"), noinline)) float fma_loop_avx2(int64_t iters, float seed) {
  __m256 acc[kAccAvx2];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(seed * 1e-7f);
#pragma GCC unroll 16
  for (int i = 0; i < kAccAvx2; ++i) acc[i] = _mm256_set1_ps(seed + i);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 16
    for (int i = 0; i < kAccAvx2; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < kAccAvx2; ++i) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float l[8];
  _mm256_store_ps(l, s);
  return l[0] + l[1] + l[2] + l[3] + l[4] + l[5] + l[6] + l[7];
}
#endif

}  // namespace

bool has_avx512_bf16() {
#ifdef CLLM4REC_X86
  static const bool yes = detail::has_avx512() && __builtin_cpu_supports("avx512bf16") &&
                          detail::isa_allowed("avx512bf16");
  return yes;
#else
  return false;
#endif
}

int64_t cpu_isa() { return int64_t(detail::widest_isa()); }

// kind: 0 = fp32 FMA at the widest ISA the kernels use, 1 = BF16 dot products (vdpbf16ps,
// 2 multiply-adds per lane). Returns FLOP/s over `seconds` (about) on all threads; 0 when
// the ISA is missing. out[1] = vector width in floats.
double fma_peak(int kind, double seconds, int* lanes) {
#ifdef CLLM4REC_X86
  const bool avx512 = detail::has_avx512();
  if (kind == 1 && !has_avx512_bf16()) return 0.0;
  if (kind == 0 && !avx512 && !detail::has_avx2()) return 0.0;
  const int w = avx512 ? 16 : 8;
  if (lanes) *lanes = w;
  const double flopsPerIter = double(avx512 ? kAcc : kAccAvx2) * w * 2 * (kind == 1 ? 2 : 1);
  auto loop = kind == 1 ? bf16_loop_avx512 : avx512 ? fma_loop_avx512 : fma_loop_avx2;
  // calibrate: iterations for ~seconds/4 on one thread, then the timed team run
  int64_t iters = 1 << 16;
  volatile float sink = 0;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    sink = sink + loop(iters, 1.0f);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > seconds / 8 || iters > (int64_t(1) << 40)) {
      iters = int64_t(double(iters) * (seconds / 2) / (s > 0 ? s : 1e-9));
      break;
    }
    iters *= 4;
  }
  double best = 0;
  for (int rep = 0; rep < 2; ++rep) {  // the better of two: a descheduled thread only lowers it
    int threads = 1;
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel
    {
#pragma omp single
      threads = omp_get_num_threads();
      sink = sink + loop(iters, float(omp_get_thread_num() + 1));
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, flopsPerIter * double(iters) * threads / s);
  }
  return best;
#else
  if (lanes) *lanes = 1;
  return 0.0;
#endif
}

}  // namespace cpu
