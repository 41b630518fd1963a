// Vectorisable math for the CPU kernels (internal to native/cpu). Kernels write plain
// loops over always_inline helpers and compile them three times: for AVX-512, for AVX2 +
// FMA (the widest the CPU has is chosen at run time, `pick`) and for the baseline ISA, so
// the addon runs on any x86-64 CPU.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>

#define CLLM4REC_INLINE inline __attribute__((always_inline))
#if defined(__x86_64__) || defined(__i386__)
#define CLLM4REC_AVX512 __attribute__((target("avx512f,fma,prefer-vector-width=512")))
#define CLLM4REC_AVX2 __attribute__((target("avx2,fma")))
#else
#define CLLM4REC_AVX512
#define CLLM4REC_AVX2
#endif

namespace cpu {
namespace detail {

// CLLM4REC_CPU_ISA=avx512|avx2|generic caps the instruction set, so tests can exercise the
// fallback kernels on an AVX-512 machine (avx512: everything but the BF16 kernels).
inline bool isa_allowed(const char* isa) {
  const char* cap = std::getenv("CLLM4REC_CPU_ISA");
  if (!cap || !*cap) return true;
  if (std::strcmp(cap, "generic") == 0) return false;
  if (std::strcmp(cap, "avx512") == 0) return std::strcmp(isa, "avx512bf16") != 0;
  if (std::strcmp(cap, "avx2") == 0) return std::strcmp(isa, "avx2") == 0;
  return true;
}

inline bool has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma") &&
                          isa_allowed("avx512");
  return yes;
#else
  return false;
#endif
}

inline bool has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          isa_allowed("avx2");
  return yes;
#else
  return false;
#endif
}

// The instruction sets a kernel is cloned for (template argument of its always_inline body).
enum class Isa { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

// The widest ISA this CPU has (and CLLM4REC_CPU_ISA allows): the clones every kernel runs.
inline Isa widest_isa() {
  static const Isa isa = [] {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();  // the feature bits may be read before libgcc's constructor ran
#endif
    return has_avx512() ? Isa::kAvx512 : has_avx2() ? Isa::kAvx2 : Isa::kGeneric;
  }();
  return isa;
}

// The clone of a kernel for widest_isa().
template <class F>
inline F pick(F avx512, F avx2, F generic) {
  const Isa isa = widest_isa();
  return isa == Isa::kAvx512 ? avx512 : isa == Isa::kAvx2 ? avx2 : generic;
}

// exp(x) in float without branches (so loops over it vectorise): range reduction
// x = n ln2 + r, |r| <= ln2/2, degree-7 Taylor polynomial (relative error < 1e-7),
// scaled by 2^n built in the exponent bits. exp(x) = 0 below -87 (including -inf).
CLLM4REC_INLINE float exp_approx(float x) {
  const float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (xc * 1.44269504088896341f + magic) - magic;
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;  // ln2 split in two parts
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float twoN = __builtin_bit_cast(float, (int32_t(n) + 127) << 23);
  return x < -87.0f ? 0.0f : p * twoN;
}

}  // namespace detail
}  // namespace cpu
