// GEMM: C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] (+ bias), row-major fp32.
// Cache-blocked and packed: B is packed into kc x NR column panels (one per L1-sized
// micro-panel), A into MR x kc row panels, and a register-blocked micro-kernel
// computes each MR x NR tile of C. The micro-kernel is picked at run time: AVX-512,
// AVX2, or portable C++ so the addon runs on any x86-64 (or other) CPU.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CLLM4REC_X86 1
#endif

#include "kernels.h"
#include "simd.h"

namespace cpu {

namespace {

constexpr int64_t kKC = 256;      // depth of one packed block (B micro-panel ~32 KB, fits L1)
constexpr int64_t kMC = 144;      // rows of A per task (A block ~144 KB, fits L2)
constexpr int64_t kNChunk = 256;  // columns per task
constexpr int64_t kSlabFloats = int64_t(8) << 20;  // packed B per slab (32 MB, shared)

// A grow-only, 64-byte aligned scratch buffer owned by the calling thread (two per
// thread: the shared packed B of the caller, and each worker's own packed A).
template <int Slot>
float* scratch_slot(int64_t floats) {
  thread_local float* buf = nullptr;
  thread_local int64_t cap = 0;
  if (floats > cap) {
    std::free(buf);
    const size_t bytes = ((size_t(floats) * sizeof(float)) + 63) / 64 * 64;
    buf = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!buf) {  // the caller checks: no exception may leave an OpenMP region
      cap = 0;
      return nullptr;
    }
    cap = floats;
  }
  return buf;
}

float* scratch(int64_t floats) { return scratch_slot<0>(floats); }
float* thread_scratch(int64_t floats) { return scratch_slot<1>(floats); }

// Writes one MR x NR accumulator tile (row-major, ld NR) into C with alpha/beta/bias.
template <int MR, int NR>
void store_tile(const float* acc, int64_t mr, int64_t nr, float* c, int64_t ldc, float alpha,
                float beta, const float* bias) {
  for (int64_t i = 0; i < mr; ++i) {
    float* ci = c + i * ldc;
    for (int64_t j = 0; j < nr; ++j) {
      float v = alpha * acc[i * NR + j];
      if (beta != 0.0f) v += beta * ci[j];
      if (bias) v += bias[j];
      ci[j] = v;
    }
  }
}

// Portable micro-kernel: 4 rows x 8 columns in 4-lane GCC vectors (SSE2 on any x86-64,
// NEON elsewhere): 8 vector accumulators, no target-specific code.
typedef float v4sf __attribute__((vector_size(16)));

void kernel_portable(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                     float alpha, float beta, const float* bias) {
  constexpr int MR = 4, NR = 8;
  v4sf acc0[MR] = {}, acc1[MR] = {};
  for (int64_t p = 0; p < kc; ++p, a += MR, b += NR) {
    v4sf b0, b1;
    std::memcpy(&b0, b, sizeof b0);
    std::memcpy(&b1, b + 4, sizeof b1);
    for (int i = 0; i < MR; ++i) {
      const v4sf ai = {a[i], a[i], a[i], a[i]};
      acc0[i] += ai * b0;
      acc1[i] += ai * b1;
    }
  }
  float tile[MR * NR];
  for (int i = 0; i < MR; ++i) {
    std::memcpy(tile + i * NR, &acc0[i], sizeof acc0[i]);
    std::memcpy(tile + i * NR + 4, &acc1[i], sizeof acc1[i]);
  }
  store_tile<MR, NR>(tile, MR, NR, c, ldc, alpha, beta, bias);
}

#ifdef CLLM4REC_X86
// AVX-512 micro-kernel: 12 rows x 32 columns = 24 zmm accumulators.
__attribute__((target("avx512f,fma"))) void kernel_avx512(int64_t kc, const float* a,
                                                          const float* b, float* c, int64_t ldc,
                                                          float alpha, float beta,
                                                          const float* bias) {
  constexpr int MR = 12;
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p, a += MR, b += 32) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_fmadd_ps(va, acc0[i], bias0), r1 = _mm512_fmadd_ps(va, acc1[i], bias1);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci + 16), r1);
    }
    _mm512_storeu_ps(ci, r0);
    _mm512_storeu_ps(ci + 16, r1);
  }
}

// AVX2 micro-kernel: 6 rows x 16 columns = 12 ymm accumulators.
__attribute__((target("avx2,fma"))) void kernel_avx2(int64_t kc, const float* a, const float* b,
                                                     float* c, int64_t ldc, float alpha,
                                                     float beta, const float* bias) {
  constexpr int MR = 6;
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; ++p, a += MR, b += 16) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  const __m256 bias0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 bias1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    __m256 r0 = _mm256_fmadd_ps(va, acc0[i], bias0), r1 = _mm256_fmadd_ps(va, acc1[i], bias1);
    if (beta != 0.0f) {
      r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
      r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
    }
    _mm256_storeu_ps(ci, r0);
    _mm256_storeu_ps(ci + 8, r1);
  }
}
#endif

using KernelFn = void (*)(int64_t, const float*, const float*, float*, int64_t, float, float,
                          const float*);

// Packs rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) into MR-row panels, zero-padded.
template <int MR>
void pack_a(bool transA, const float* A, int64_t M, int64_t K, int64_t i0, int64_t mc,
            int64_t p0, int64_t kc, float* dst) {
  for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
    const int64_t mr = std::min<int64_t>(MR, mc - ir);
    if (transA) {  // A stored [K, M]: a panel row-slice is contiguous
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = A + (p0 + p) * M + i0 + ir;
        float* d = dst + p * MR;
        for (int64_t r = 0; r < mr; ++r) d[r] = src[r];
        for (int64_t r = mr; r < MR; ++r) d[r] = 0.0f;
      }
    } else {  // A stored [M, K]
      for (int64_t r = 0; r < MR; ++r) {
        if (r < mr) {
          const float* src = A + (i0 + ir + r) * K + p0;
          for (int64_t p = 0; p < kc; ++p) dst[p * MR + r] = src[p];
        } else {
          for (int64_t p = 0; p < kc; ++p) dst[p * MR + r] = 0.0f;
        }
      }
    }
  }
}

// Packs depth [p0, p0+kc) x columns [j0, j0+nc) of op(B) into NR-column panels.
template <int NR>
void pack_b_panel(bool transB, const float* B, int64_t N, int64_t K, int64_t p0, int64_t kc,
                  int64_t j, int64_t nr, float* dst) {
  if (!transB) {  // B stored [K, N]: each depth step is a contiguous run of columns
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = B + (p0 + p) * N + j;
      float* d = dst + p * NR;
      for (int64_t c = 0; c < nr; ++c) d[c] = src[c];
      for (int64_t c = nr; c < NR; ++c) d[c] = 0.0f;
    }
  } else {  // B stored [N, K]
    for (int64_t c = 0; c < NR; ++c) {
      if (c < nr) {
        const float* src = B + (j + c) * K + p0;
        for (int64_t p = 0; p < kc; ++p) dst[p * NR + c] = src[p];
      } else {
        for (int64_t p = 0; p < kc; ++p) dst[p * NR + c] = 0.0f;
      }
    }
  }
}

// B is packed one column slab at a time (all of K, up to kSlabFloats), with one barrier;
// then threads take (row block, column chunk) tasks dynamically, each walking the whole
// depth with its own packed A block. A thread that the OS deschedules (the machine is
// shared) then delays only its own task, not a barrier per depth block.
template <int MR, int NR>
void gemm_packed(KernelFn kernel, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                 float alpha, const float* A, const float* B, float beta, float* C,
                 const float* bias) {
  const int64_t kBlocks = (K + kKC - 1) / kKC;
  // Column slab: as many NR panels as fit kSlabFloats of packed B.
  const int64_t slabPanels = std::max<int64_t>(1, kSlabFloats / (kBlocks * kKC * NR));
  const int64_t slabCols = std::min(N, slabPanels * NR);
  const int64_t panelsPerSlab = (slabCols + NR - 1) / NR;
  float* bp = scratch(kBlocks * panelsPerSlab * NR * kKC);
  if (!bp) throw std::bad_alloc();
  bool outOfMemory = false;
  for (int64_t jc = 0; jc < N; jc += slabCols) {
    const int64_t nc = std::min(slabCols, N - jc);
    const int64_t nPanels = (nc + NR - 1) / NR;
    const int64_t icBlocks = (M + kMC - 1) / kMC;
    const int64_t jChunks = (nc + kNChunk - 1) / kNChunk;
#pragma omp parallel
    {
      // Packed panel (pc, q) lives at bp + (pc * nPanels + q) * NR * kKC.
#pragma omp for schedule(static) collapse(2)
      for (int64_t pcb = 0; pcb < kBlocks; ++pcb)
        for (int64_t q = 0; q < nPanels; ++q) {
          const int64_t pc = pcb * kKC, kc = std::min(kKC, K - pc);
          pack_b_panel<NR>(transB, B, N, K, pc, kc, jc + q * NR,
                           std::min<int64_t>(NR, nc - q * NR), bp + (pcb * nPanels + q) * NR * kKC);
        }
      float* ap = thread_scratch(kMC * kKC);
      if (!ap) {
#pragma omp atomic write
        outOfMemory = true;
      }
      alignas(64) float tile[MR * NR];
#pragma omp for schedule(dynamic, 1) collapse(2)
      for (int64_t ib = 0; ib < icBlocks; ++ib) {
        for (int64_t jb = 0; jb < jChunks; ++jb) {
          if (!ap) continue;
          const int64_t i0 = ib * kMC, mc = std::min(kMC, M - i0);
          const int64_t j0 = jb * kNChunk, j1 = std::min(nc, j0 + kNChunk);
          for (int64_t pcb = 0; pcb < kBlocks; ++pcb) {
            const int64_t pc = pcb * kKC, kc = std::min(kKC, K - pc);
            const bool first = pcb == 0;
            const float betaEff = first ? beta : 1.0f;  // later depth blocks add onto C
            pack_a<MR>(transA, A, M, K, i0, mc, pc, kc, ap);
            for (int64_t jr = j0; jr < j1; jr += NR) {
              const int64_t nr = std::min<int64_t>(NR, j1 - jr);
              const float* bpan = bp + (pcb * nPanels + jr / NR) * NR * kKC;
              const float* biasJ = (first && bias) ? bias + jc + jr : nullptr;
              for (int64_t ir = 0; ir < mc; ir += MR) {
                const int64_t mr = std::min<int64_t>(MR, mc - ir);
                const float* apan = ap + ir * kc;
                float* c = C + (i0 + ir) * N + jc + jr;
                if (mr == MR && nr == NR) {
                  kernel(kc, apan, bpan, c, N, alpha, betaEff, biasJ);
                } else {  // edge tile: full tile into scratch, then merge the valid part
                  kernel(kc, apan, bpan, tile, NR, 1.0f, 0.0f, nullptr);
                  store_tile<MR, NR>(tile, mr, nr, c, N, alpha, betaEff, biasJ);
                }
              }
            }
          }
        }
      }
    }
    if (outOfMemory) throw std::bad_alloc();
  }
}

// K == 0: the product is empty, so C = beta * C + bias.
void scale_and_bias(int64_t M, int64_t N, float beta, float* C, const float* bias) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      float v = beta != 0.0f ? beta * C[i * N + j] : 0.0f;
      if (bias) v += bias[j];
      C[i * N + j] = v;
    }
}

enum class Isa { kPortable, kAvx2, kAvx512 };

Isa detect_isa() {
#ifdef CLLM4REC_X86
  __builtin_cpu_init();
  if (detail::has_avx512()) return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      detail::isa_allowed("avx2"))
    return Isa::kAvx2;
#endif
  return Isa::kPortable;
}

}  // namespace

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t strideA, const float* B, int64_t strideB, float beta, float* C,
          int64_t strideC, int64_t batch, const float* bias) {
  static const Isa isa = detect_isa();
  for (int64_t b = 0; b < batch; ++b) {
    const float* Ab = A + b * strideA;
    const float* Bb = B + b * strideB;
    float* Cb = C + b * strideC;
    if (K == 0) {
      scale_and_bias(M, N, beta, Cb, bias);
      continue;
    }
    switch (isa) {
#ifdef CLLM4REC_X86
      case Isa::kAvx512:
        gemm_packed<12, 32>(kernel_avx512, transA, transB, M, N, K, alpha, Ab, Bb, beta, Cb, bias);
        break;
      case Isa::kAvx2:
        gemm_packed<6, 16>(kernel_avx2, transA, transB, M, N, K, alpha, Ab, Bb, beta, Cb, bias);
        break;
#endif
      default:
        gemm_packed<4, 8>(kernel_portable, transA, transB, M, N, K, alpha, Ab, Bb, beta, Cb,
                          bias);
    }
  }
}

}  // namespace cpu
