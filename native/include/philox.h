// Philox4x32-10 (Salmon et al., SC'11), shared by the CPU kernels and the CUDA kernels (host
// and device): the dropout masks are a pure function of (seed, site, step, element index), so
// both backends, the backward pass and a resumed run all draw the same bits. The TypeScript
// reference is src/nn/philox.ts; test/native/dropout.test.ts checks both against each other
// and against Random123's known-answer vectors.
#pragma once
#include <cstdint>

#ifdef __CUDACC__  // nvcc; the simulator compiles .cu files as plain C++
#define CLLM4REC_HD __host__ __device__ __forceinline__
#else
#define CLLM4REC_HD inline
#endif

namespace philox {

// Second key word of every dropout stream (src/nn/philox.ts DROPOUT_KEY1).
constexpr uint32_t kDropoutKey1 = 0x6c6c6d34u;

struct Words {
  uint32_t w[4];
};

// Ten rounds of counter (c0..c3) under key (k0, k1).
CLLM4REC_HD Words philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                             uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    const uint64_t p0 = uint64_t(0xd2511f53u) * c0, p1 = uint64_t(0xcd9e8d57u) * c2;
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9e3779b9u;
    k1 += 0xbb67ae85u;
  }
  return Words{{c0, c1, c2, c3}};
}

// Where a mask lives in the counter space, and how it is applied: element e is kept (and
// multiplied by scale) when the top 24 bits of word e%4 of block e/4 (counter [block_lo,
// block_hi, site, step], key [seed, kDropoutKey1]) are >= threshold = round(p * 2^24).
struct Dropout {
  uint32_t seed, site, step, threshold;
  float scale;
  // threshold 0 keeps every element; scale 1 then leaves it as it is: no dropout at all.
  CLLM4REC_HD bool active() const { return threshold != 0 || scale != 1.0f; }
  CLLM4REC_HD Words block(uint64_t b) const {
    return philox4x32(uint32_t(b), uint32_t(b >> 32), site, step, seed, kDropoutKey1);
  }
  // The mask value of element e: scale or 0.
  CLLM4REC_HD float mask(uint64_t e) const {
    return (block(e >> 2).w[e & 3] >> 8) >= threshold ? scale : 0.0f;
  }
};

CLLM4REC_HD Dropout make_dropout(int64_t seed, int64_t site, int64_t step, int64_t threshold,
                                 float scale) {
  return Dropout{uint32_t(seed), uint32_t(site), uint32_t(step), uint32_t(threshold), scale};
}

}  // namespace philox
