// Tensor-core and async-copy intrinsics for the fast kernels: mma.sync (m16n8k8 TF32,
// m16n8k16 BF16/F16, FP32 accumulate), ldmatrix (x1/x2/x4, optionally .trans) and
// cp.async (4/8/16 bytes, commit/wait group). Inline PTX on the GPU (sm_80+); in the
// simulator (CLLM4REC_CUDASIM) the warp's lanes meet at the op, their registers are
// gathered, the op is computed, the results scattered, following the PTX ISA fragment
// layouts (groupID = lane >> 2, tig = lane % 4):
//   m16n8k8 .tf32  A a0..a3: row gid (+8 for a1,a3), col tig (+4 for a2,a3)
//                  B b0,b1:  row (k) tig (+4 for b1), col (n) gid
//   m16n8k16 .f16/.bf16  A a0..a7 (2 per register): row gid (+8 for a2,a3,a6,a7),
//                  col tig*2 + (i&1) (+8 for i>=4); B b0..b3: row tig*2 + (i&1) (+8 for
//                  i>=2), col gid
//   C/D c0..c3 (f32): row gid (+8 for c2,c3), col tig*2 + (i&1)
//   ldmatrix m8n8 .b16: lanes 8m..8m+7 give the row addresses of matrix m; register m
//                  of lane l holds row l/4, cols 2(l%4), 2(l%4)+1 (.trans: that element
//                  pair of the transposed matrix).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "native/cuda/mma.cuh needs sm_80 or newer"
#endif

namespace cuda {
namespace mma {

// Two floats -> one register of two BF16 (lo in the low half: the element order of the
// mma.sync A/B registers), round to nearest even. The simulator rounds as cpu::f32_to_bf16
// does (a NaN keeps its sign and top payload bits, quieted).
__device__ __forceinline__ uint32_t bf16x2(float lo, float hi) {
#ifdef CLLM4REC_CUDASIM
  auto one = [](float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;  // NaN stays NaN
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  };
  return one(lo) | (one(hi) << 16);
#else
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
#endif
}

#ifdef CLLM4REC_CUDASIM
namespace sim {

inline float tf32_value(uint32_t bits) {  // the tensor core reads the top 19 bits
  bits &= 0xffffe000u;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline float bf16_value(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline float f16_value(uint16_t h) {
  const uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal: value = man * 2^-24
    float f = std::ldexp(float(man), -24);
    return sign ? -f : f;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

struct MmaPayload {
  float* d;
  const uint32_t* a;
  const uint32_t* b;
  const float* c;
};

// Element (i) of lane l's A/B register file, by the fragment layouts above.
template <int Kind>  // 0: tf32 m16n8k8, 1: bf16 m16n8k16, 2: f16 m16n8k16
inline void mma_resolve(void* const* lanes, unsigned) {
  constexpr int K = Kind == 0 ? 8 : 16;
  float A[16][16], B[16][8], C[16][8];
  for (int l = 0; l < 32; ++l) {
    const auto* p = static_cast<const MmaPayload*>(lanes[l]);
    const int gid = l >> 2, tig = l & 3;
    if (Kind == 0) {
      for (int i = 0; i < 4; ++i)
        A[gid + ((i & 1) ? 8 : 0)][tig + (i >= 2 ? 4 : 0)] = tf32_value(p->a[i]);
      for (int i = 0; i < 2; ++i) B[tig + (i ? 4 : 0)][gid] = tf32_value(p->b[i]);
    } else {
      for (int i = 0; i < 8; ++i) {
        const uint16_t h = uint16_t(p->a[i / 2] >> (16 * (i & 1)));
        const int row = gid + ((i == 2 || i == 3 || i == 6 || i == 7) ? 8 : 0);
        const int col = tig * 2 + (i & 1) + (i >= 4 ? 8 : 0);
        A[row][col] = Kind == 1 ? bf16_value(h) : f16_value(h);
      }
      for (int i = 0; i < 4; ++i) {
        const uint16_t h = uint16_t(p->b[i / 2] >> (16 * (i & 1)));
        B[tig * 2 + (i & 1) + (i >= 2 ? 8 : 0)][gid] = Kind == 1 ? bf16_value(h) : f16_value(h);
      }
    }
    for (int i = 0; i < 4; ++i) C[gid + (i >= 2 ? 8 : 0)][tig * 2 + (i & 1)] = p->c[i];
  }
  for (int l = 0; l < 32; ++l) {
    auto* p = static_cast<const MmaPayload*>(lanes[l]);
    const int gid = l >> 2, tig = l & 3;
    for (int i = 0; i < 4; ++i) {
      const int row = gid + (i >= 2 ? 8 : 0), col = tig * 2 + (i & 1);
      float acc = C[row][col];
      for (int k = 0; k < K; ++k) acc += A[row][k] * B[k][col];
      p->d[i] = acc;
    }
  }
}

struct LdmatrixPayload {
  const void* row;  // this lane's row address (used by lanes 0..8*count-1)
  uint32_t* out;
};

template <int Count, bool Trans>
inline void ldmatrix_resolve(void* const* lanes, unsigned) {
  uint16_t M[4][8][8];
  for (int m = 0; m < Count; ++m)
    for (int r = 0; r < 8; ++r) {
      const auto* p = static_cast<const LdmatrixPayload*>(lanes[m * 8 + r]);
      std::memcpy(M[m][r], p->row, 16);
    }
  for (int l = 0; l < 32; ++l) {
    auto* p = static_cast<const LdmatrixPayload*>(lanes[l]);
    const int r = l >> 2, c = (l & 3) * 2;
    for (int m = 0; m < Count; ++m) {
      const uint16_t lo = Trans ? M[m][c][r] : M[m][r][c];
      const uint16_t hi = Trans ? M[m][c + 1][r] : M[m][r][c + 1];
      p->out[m] = uint32_t(lo) | (uint32_t(hi) << 16);
    }
  }
}

}  // namespace sim
#endif  // CLLM4REC_CUDASIM

// D = A * B + C for one warp (all 32 lanes, converged), FP32 accumulate.
__device__ __forceinline__ void mma_m16n8k8_tf32(float d[4], const uint32_t a[4],
                                                 const uint32_t b[2], const float c[4]) {
#ifdef CLLM4REC_CUDASIM
  sim::MmaPayload p{d, a, b, c};
  ::cudasim::collective("mma.sync.m16n8k8.tf32", 0xffffffffu, &p, sim::mma_resolve<0>);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
        "f"(c[2]), "f"(c[3]));
#endif
}

__device__ __forceinline__ void mma_m16n8k16_bf16(float d[4], const uint32_t a[4],
                                                  const uint32_t b[2], const float c[4]) {
#ifdef CLLM4REC_CUDASIM
  sim::MmaPayload p{d, a, b, c};
  ::cudasim::collective("mma.sync.m16n8k16.bf16", 0xffffffffu, &p, sim::mma_resolve<1>);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
        "f"(c[2]), "f"(c[3]));
#endif
}

__device__ __forceinline__ void mma_m16n8k16_f16(float d[4], const uint32_t a[4],
                                                 const uint32_t b[2], const float c[4]) {
#ifdef CLLM4REC_CUDASIM
  sim::MmaPayload p{d, a, b, c};
  ::cudasim::collective("mma.sync.m16n8k16.f16", 0xffffffffu, &p, sim::mma_resolve<2>);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
        "f"(c[2]), "f"(c[3]));
#endif
}

// Count (1, 2, 4) 8x8 b16 matrices from shared memory; `row` is this lane's row address
// (16 bytes, 16-byte aligned; lanes 8m..8m+7 address matrix m).
template <int Count, bool Trans>
__device__ __forceinline__ void ldmatrix(uint32_t (&r)[Count], const void* row) {
  static_assert(Count == 1 || Count == 2 || Count == 4, "ldmatrix: .x1, .x2 or .x4");
#ifdef CLLM4REC_CUDASIM
  sim::LdmatrixPayload p{row, r};
  ::cudasim::collective(Trans ? "ldmatrix.trans" : "ldmatrix", 0xffffffffu, &p,
                        sim::ldmatrix_resolve<Count, Trans>);
#else
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(row));
  if constexpr (Count == 1 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(a));
  else if constexpr (Count == 1)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(a));
  else if constexpr (Count == 2 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1]) : "r"(a));
  else if constexpr (Count == 2)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1]) : "r"(a));
  else if constexpr (!Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
#endif
}

// Asynchronous global -> shared copy of Bytes (4, 8, 16; both addresses aligned to it).
// Not visible until a cp_async_wait that covers its group.
template <int Bytes>
__device__ __forceinline__ void cp_async(void* smem, const void* gmem) {
  static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async copies 4, 8 or 16 bytes");
#ifdef CLLM4REC_CUDASIM
  ::cudasim::async_copy(smem, gmem, Bytes);
#else
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"(s), "l"(gmem), "n"(Bytes));
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#ifdef CLLM4REC_CUDASIM
  ::cudasim::async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

// Waits until at most `Pending` of this thread's committed groups are still in flight.
template <int Pending>
__device__ __forceinline__ void cp_async_wait() {
#ifdef CLLM4REC_CUDASIM
  ::cudasim::async_wait(Pending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending));
#endif
}

// fp32 -> tf32 (round to nearest, ties away), as the A/B registers of the TF32 mma expect.
__device__ __forceinline__ uint32_t to_tf32(float x) {
#ifdef CLLM4REC_CUDASIM
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if ((bits & 0x7f800000u) != 0x7f800000u) bits = (bits + 0x1000u) & 0xffffe000u;
  return bits;
#else
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
#endif
}

}  // namespace mma
}  // namespace cuda
