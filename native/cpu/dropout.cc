// Dropout from Philox4x32-10 counters (native/include/philox.h): the mask of element e is a
// pure function of (seed, site, step, e), so the backward regenerates it instead of storing
// it, and the CUDA twin produces the same bits. One Philox block gives four elements.
#include "kernels.h"
#include "parallel.h"
#include "philox.h"

namespace cpu {

namespace {
constexpr int64_t kBlock = 4096;  // elements per task (a multiple of 4: tasks own whole blocks)

// out[i] = in[i] * mask[i0 + i] (accumulated into out when asked) for i < m.
inline void masked(const philox::Dropout& d, const float* in, float* out, int64_t i0, int64_t m,
                   bool accumulate) {
  for (int64_t i = 0; i < m; i += 4) {
    const philox::Words w = d.block(uint64_t(i0 + i) >> 2);
    for (int64_t k = 0; k < 4 && i + k < m; ++k) {
      const float v = in[i + k] * ((w.w[k] >> 8) >= d.threshold ? d.scale : 0.0f);
      out[i + k] = accumulate ? out[i + k] + v : v;
    }
  }
}

void run(const float* in, float* out, int64_t n, const philox::Dropout& d, bool accumulate) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n >= detail::kParallelGrain)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t i = b * kBlock;
    masked(d, in + i, out + i, i, n - i < kBlock ? n - i : kBlock, accumulate);
  }
}
}  // namespace

void philox_blocks(int32_t* out, int64_t nBlocks, int64_t c0, int64_t c1, int64_t c2, int64_t c3,
                   int64_t k0, int64_t k1) {
  const uint64_t c = (uint64_t(uint32_t(c1)) << 32) | uint32_t(c0);
  for (int64_t b = 0; b < nBlocks; ++b) {
    const uint64_t cb = c + uint64_t(b);
    const philox::Words w = philox::philox4x32(uint32_t(cb), uint32_t(cb >> 32), uint32_t(c2),
                                               uint32_t(c3), uint32_t(k0), uint32_t(k1));
    for (int k = 0; k < 4; ++k) out[4 * b + k] = int32_t(w.w[k]);
  }
}

void dropout_forward(const float* x, float* y, int64_t n, int64_t seed, int64_t site, int64_t step,
                     int64_t threshold, float scale) {
  run(x, y, n, philox::make_dropout(seed, site, step, threshold, scale), false);
}

void dropout_backward(const float* dy, float* dx, int64_t n, int64_t seed, int64_t site,
                      int64_t step, int64_t threshold, float scale, bool accumulate) {
  run(dy, dx, n, philox::make_dropout(seed, site, step, threshold, scale), accumulate);
}

}  // namespace cpu
