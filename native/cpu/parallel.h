// Small helpers shared by the CPU kernels (internal to native/cpu).
#pragma once
#include <omp.h>

#include <cstdint>

namespace cpu {
namespace detail {

// Below this many elements an elementwise loop is not worth waking the OpenMP team.
constexpr int64_t kParallelGrain = 1 << 15;

// Deterministic double-precision sum of f(i) for i in [0, n): fixed chunking whose
// partial sums are added in chunk order, so the result does not depend on threads.
template <typename F>
double deterministic_sum(int64_t n, F f) {
  constexpr int64_t kChunks = 64;
  double partial[kChunks] = {0};
  const int64_t chunk = (n + kChunks - 1) / kChunks;
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t c = 0; c < kChunks; ++c) {
    const int64_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
    double s = 0;
    for (int64_t i = lo; i < hi; ++i) s += f(i);
    partial[c] = s;
  }
  double total = 0;
  for (int64_t c = 0; c < kChunks; ++c) total += partial[c];
  return total;
}

}  // namespace detail
}  // namespace cpu
