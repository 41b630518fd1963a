// CPU-only kernels: fast paths with no CUDA twin yet. The engine uses them only for cpu
// tensors (and only where has_* says the ISA is there); CUDA keeps the kernels.h paths.
#pragma once
#include <cstddef>
#include <cstdint>

namespace cpu {

// Fused vocabulary head + softmax cross-entropy: logits = h [n, d] @ W [C, d]^T, for rows
// with target >= 0: loss[r] = logsumexp(logits[r]) - logits[r, target[r]], lse[r] saved,
// and when dh is not null dh[r] = softmax(logits[r]) @ W - W[target[r]] (the gradient of
// loss[r] with respect to h[r]). Masked rows (target < 0) get loss 0, lse 0, dh 0. One pass
// over W with an online softmax; logits are never stored.
void linear_xent_forward(const float* h, const float* W, const int32_t* target, float* loss,
                         float* lse, float* dh, int64_t n, int64_t C, int64_t d);

// linear_xent_forward with W frozen in BF16 (AVX512_BF16; the caller checks has_avx512_bf16()):
// Wtb = bf16_pack_b(true, W, d, C) (the logits' B) and Wrb = bf16_pack_b(false, W, C, d) (the
// gradient's B), packed once; h and the probabilities are rounded to BF16 as they are packed,
// products accumulate in fp32, the softmax is fp32, and dh's -W[target] term reads W in fp32.
void linear_xent_bf16_forward(const float* h, const float* W, const uint32_t* Wtb, const uint32_t* Wrb,
                              const int32_t* target, float* loss, float* lse, float* dh, int64_t n, int64_t C,
                              int64_t d);

// AVX512_BF16 present (and not capped by CLLM4REC_CPU_ISA).
bool has_avx512_bf16();
// The clones the CPU kernels run (after CLLM4REC_CPU_ISA): 2 AVX-512, 1 AVX2 + FMA, 0 baseline.
int64_t cpu_isa();
// 32-bit words of a [K, N] matrix packed by bf16_pack_b.
int64_t bf16_packed_words(int64_t K, int64_t N);
// Packs op(B) = B [K, N] (B stored [N, K] when transB) into BF16 column panels, pairs along
// the depth, rounded to nearest even: the B operand of gemm_bf16, packed once per weight.
void bf16_pack_b(bool transB, const float* B, int64_t K, int64_t N, uint32_t* dst);
// C = alpha * op(A) @ Bp + beta * C (+ bias[N]); A fp32 [M, K] (stored [K, M] when transA) is
// rounded to BF16 as it is packed; products accumulate in fp32 (vdpbf16ps). beta == 0: C
// is not read. Requires has_avx512_bf16().
void gemm_bf16(bool transA, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               const uint32_t* Bp, float beta, float* C, const float* bias);

// Measured arithmetic peak in FLOP/s on all threads over about `seconds`: kind 0 = fp32
// FMAs at the widest ISA the kernels use, 1 = BF16 dot products (0 when missing).
// *lanes = fp32 lanes of that ISA.
double fma_peak(int kind, double seconds, int* lanes);

}  // namespace cpu
