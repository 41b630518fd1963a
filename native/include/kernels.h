// The native contract: every kernel is declared once here and implemented twice,
// in namespace cpu (native/cpu, the reference) and namespace cuda (native/cuda).
// All tensors are contiguous row-major fp32 (float) or int32 (int32_t); shapes and
// validation live in the addon (native/addon), so kernels trust their arguments.
// Every kernel that writes an output has an `accumulate` flag (or beta) where the
// autograd needs "+=" instead of "=". Kernels are grouped by family; family F lives in
// native/cpu/F.cc and native/cuda/F.cu (the list: src/engine/families.ts).
#pragma once
#include <cstddef>
#include <cstdint>

#define CLLM4REC_KERNELS(NS)                                                          \
  namespace NS {                                                                      \
  /* ---- gemm ---- */                                                                \
  /* C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] (+ bias[N] broadcast on rows).  \
     op(A): [M,K] (A stored [K,M] when transA); op(B): [K,N] (B stored [N,K] when     \
     transB). Batch strides in elements; a stride of 0 broadcasts. bias may be null.  \
     beta == 0 means C is not read (may hold NaN). */                                 \
  void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,   \
            const float* A, int64_t strideA, const float* B, int64_t strideB,         \
            float beta, float* C, int64_t strideC, int64_t batch, const float* bias); \
  /* The frozen-weight GEMM: op(B) stored once in BF16 (Bh: element e in word e/2, \
     half e%2; [K,N], or [N,K] when transB), A fp32 rounded to BF16 (nearest even) as \
     it is read, fp32 accumulation; otherwise gemm's contract with batch 1. */        \
  void gemm_bf16_b(bool transA, bool transB, int64_t M, int64_t N, int64_t K,         \
                   float alpha, const float* A, const uint32_t* Bh, float beta,       \
                   float* C, const float* bias);                                      \
  /* Linear then GELU (GPT-2's MLP c_fc) in one GEMM: pre = A @ B + bias (A [M,K],     \
     B [K,N], bias [N] or null), kept for the backward, and out = gelu(pre), written  \
     by the GEMM's epilogue on CUDA (any version; split-K: by its reduction). The CPU \
     runs gemm then gelu_forward: bit-identical to the two ops unfused. */            \
  void gemm_gelu(int64_t M, int64_t N, int64_t K, const float* A, const float* B,     \
                 const float* bias, float* pre, float* out);                          \
  /* The same with B the frozen weight in BF16 (gemm_bf16_b's Bh, [K,N]). */          \
  void gemm_bf16_b_gelu(int64_t M, int64_t N, int64_t K, const float* A,              \
                        const uint32_t* Bh, const float* bias, float* pre,            \
                        float* out);                                                  \
  /* dst = x in BF16, nearest even, two per word (an odd n leaves the last high 0). */ \
  void f32_to_bf16(const float* x, int64_t n, uint32_t* dst);                         \
  /* ---- elementwise (every output may alias an input of the same size) ---- */      \
  /* out (+)= a * alpha + b * beta, elementwise; b may be null (then out (+)= a*alpha)*/ \
  void add(const float* a, float alpha, const float* b, float beta, float* out,       \
           int64_t n, bool accumulate);                                               \
  void fill(float* out, float value, int64_t n);                                      \
  /* out (+)= a * b elementwise: the forward, and both halves of its backward. */     \
  void mul(const float* a, const float* b, float* out, int64_t n, bool accumulate);   \
  void tanh_forward(const float* x, float* y, int64_t n);                             \
  /* dx (+)= dy * (1 - y^2), from the saved output y. */                              \
  void tanh_backward(const float* y, const float* dy, float* dx, int64_t n,           \
                     bool accumulate);                                                \
  /* y = exp(scale * x). */                                                           \
  void exp_forward(const float* x, float scale, float* y, int64_t n);                 \
  /* dx (+)= scale * dy * y, from the saved output y. */                              \
  void exp_backward(const float* y, const float* dy, float scale, float* dx,          \
                    int64_t n, bool accumulate);                                      \
  /* y = log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)), finite for every finite x. */ \
  void log_sigmoid_forward(const float* x, float* y, int64_t n);                      \
  /* dx (+)= dy * sigmoid(-x). */                                                     \
  void log_sigmoid_backward(const float* x, const float* dy, float* dx, int64_t n,    \
                            bool accumulate);                                         \
  /* ---- reduce (sums in double, fixed order) ---- */                                \
  /* out[0] = sum of x[0..n) (accumulated in double on the CPU). */                   \
  void sum(const float* x, int64_t n, float* out);                                    \
  /* out[c] (+)= sum over rows of X[rows, c] (reduces the row axis): the bias         \
     gradient. */                                                                     \
  void col_sum(const float* X, int64_t rows, int64_t cols, float* out,                \
                bool accumulate);                                                     \
  /* out[r] (+)= sum over columns of X[r, :] for X [R, C] (col_sum reduces the other  \
     axis); summed in double on the CPU. */                                           \
  void row_sum_forward(const float* X, int64_t R, int64_t C, float* out,              \
                       bool accumulate);                                              \
  /* dX[r, c] (+)= dout[r]: the broadcast back over the columns. */                   \
  void row_sum_backward(const float* dout, int64_t R, int64_t C, float* dX,           \
                        bool accumulate);                                             \
  /* ---- copy ---- */                                                                \
  /* Strided 2-D block copy, batched: dst[b, r, c] (+)= src[b, r, c] for c < cols,    \
     addresses base + b*batchStride + r*rowStride + c. Used for concat and slices.    \
     dst and src must not overlap (the CUDA twin copies in parallel). */              \
  void copy_strided(float* dst, int64_t dstBatchStride, int64_t dstRowStride,         \
                    const float* src, int64_t srcBatchStride, int64_t srcRowStride,   \
                    int64_t batch, int64_t rows, int64_t cols, bool accumulate);      \
  /* ---- layernorm ---- */                                                           \
  /* LayerNorm over the last dim D of x [R, D]; saves mean [R] and rstd [R]. */       \
  void layernorm_forward(const float* x, const float* gamma, const float* beta,       \
                         float* y, float* mean, float* rstd, int64_t R, int64_t D,    \
                         float eps);                                                  \
  /* dx (+)= d/dx (= when !accumulateDx); dgamma, dbeta += their gradients, always    \
     accumulated; any of the three may be null (a frozen LayerNorm passes null for    \
     dgamma and dbeta). */                                                            \
  void layernorm_backward(const float* dy, const float* x, const float* gamma,        \
                          const float* mean, const float* rstd, float* dx,            \
                          float* dgamma, float* dbeta, int64_t R, int64_t D,          \
                          bool accumulateDx);                                         \
  /* ---- gelu ---- */                                                                \
  /* GELU, tanh approximation (GPT-2's gelu_new). */                                  \
  void gelu_forward(const float* x, float* y, int64_t n);                             \
  void gelu_backward(const float* x, const float* dy, float* dx, int64_t n,           \
                     bool accumulate);                                                \
  /* ---- attention ---- */                                                           \
  /* Causal multi-head attention with a key-padding mask and a key prefix.            \
     q: rows [B, Tq] of ldq floats, head h at columns h*Dh..; k, v: rows [B, Tk] of   \
     ldk floats. Tk >= Tq; query i sits at key position p = Tk - Tq + i and sees keys \
     j <= p with keyMask[b, j] != 0 (keyMask [B, Tk] int32, may be null = all valid). \
     A query whose own position is masked, or that sees no key, outputs zeros.        \
     out: [B, Tq, H*Dh] contiguous; lse: [B, H, Tq] log-sum-exp of the scaled scores  \
     (-INFINITY for a query that sees no key). Scale = 1/sqrt(Dh).                    \
     Dropout on the probabilities (HF GPT-2 attn_pdrop) before they weight v: P_bhij  \
     times the mask of element ((b*H + h)*Tq + i)*Tk + j of the stream (seed, site,   \
     step) (philox.h); threshold 0 with scale 1 is no dropout (results as without).   \
     lse stays that of the undropped softmax. CUDA v2 (flash, Dh 64 and 128) uses     \
     BF16 operands; a NaN/Inf value row of a key past the causal bound but in the     \
     same 64-key tile reaches that query as 0*Inf (v1 and the CPU never read it).     \
     version: the CUDA version the model asks for (0 = the default, 1 = FP32 v1 for  \
     an fp32 model, 2 = v2 where Dh allows); CLLM4REC_ATTENTION_VERSION overrides it; \
     the CPU has one FP32 kernel. The backward takes the forward's version. */        \
  void attention_forward(const float* q, int64_t ldq, const float* k,                 \
                         const float* v, int64_t ldk, const int32_t* keyMask,         \
                         float* out, float* lse, int64_t B, int64_t H, int64_t Tq,    \
                         int64_t Tk, int64_t Dh, int64_t seed, int64_t site,          \
                         int64_t step, int64_t threshold, float scale,                \
                         int64_t version);                                            \
  /* Accumulates into dq (ldq), dk and dv (ldk); the caller zeroes them first. The    \
     dropout mask (same arguments as the forward) is regenerated, never stored. */    \
  void attention_backward(const float* dout, const float* q, int64_t ldq,             \
                          const float* k, const float* v, int64_t ldk,                \
                          const int32_t* keyMask, const float* out, const float* lse, \
                          float* dq, float* dk, float* dv, int64_t B, int64_t H,      \
                          int64_t Tq, int64_t Tk, int64_t Dh, int64_t seed,           \
                          int64_t site, int64_t step, int64_t threshold, float scale, \
                          int64_t version);                                           \
  /* ---- embedding ---- */                                                           \
  /* out[i, :] = table[ids[i] - idBase, :] for ids in [idBase, idBase + rows);        \
     rows of out whose id is outside that range are left untouched. */                \
  void gather_rows(const float* table, int64_t rows, int64_t d, const int32_t* ids,   \
                   int64_t n, int64_t idBase, float* out);                            \
  /* dtable[ids[i] - idBase, :] += dout[i, :] for ids in range; duplicates are added  \
     in ascending i, deterministically (no order-dependent float atomics). */         \
  void scatter_add_rows(float* dtable, int64_t rows, int64_t d, const int32_t* ids,   \
                        int64_t n, int64_t idBase, const float* dout);                \
  /* ---- cross_entropy ---- */                                                       \
  /* Fused softmax cross-entropy over C classes: for rows with target >= 0,           \
     loss[r] = logsumexp(logits[r]) - logits[r, target[r]] and lse[r] is saved;       \
     rows with target < 0 (masked) get loss 0 and lse 0. */                           \
  void cross_entropy_forward(const float* logits, const int32_t* target, float* loss, \
                            float* lse, int64_t R, int64_t C);                        \
  /* dlogits[r] (+)= dloss[r] * (softmax(logits[r]) - onehot(target[r])); masked rows \
     get 0. dlogits may alias logits (in place). */                                   \
  void cross_entropy_backward(const float* logits, const int32_t* target,             \
                             const float* lse, const float* dloss, float* dlogits,    \
                             int64_t R, int64_t C, bool accumulate);                  \
  /* ---- multinomial_nll ---- */                                                     \
  /* Multinomial NLL against sparse targets, CSR: row r's targets are the columns      \
     cols[k], k in [rowPtr[r], rowPtr[r+1]), strictly increasing within the row and in \
     [0, C), weights values[k] (null: all 1, multi-hot). logits [R, W] holds columns   \
     [c0, c0 + W) of C, so a head can stream the columns chunk by chunk: lse[r] is the   \
     running log-sum-exp and stx[r] the running sum_k t_k logit[r, c_k] of the chunks   \
     seen (first: set, else merged); last: loss[r] = lse[r] * sum_k t_k - stx[r].       \
     On CUDA a bad column or row pointer is found by the kernel (device status block). */\
  void multinomial_nll_forward(const float* logits, int64_t R, int64_t W, int64_t c0,  \
                               int64_t C, const int32_t* rowPtr, const int32_t* cols,  \
                               const float* values, int64_t nnz, float* lse,           \
                               float* stx, float* loss, bool first, bool last);        \
  /* dlogits[r, c] (+)= dloss[r] * (softmax(row r over all C)_c * sum_k t_k - t_c) for  \
     the chunk's columns, lse the full row's; dlogits may alias logits (in place). */   \
  void multinomial_nll_backward(const float* logits, int64_t R, int64_t W, int64_t c0, \
                                int64_t C, const int32_t* rowPtr, const int32_t* cols, \
                                const float* values, int64_t nnz, const float* lse,    \
                                const float* dloss, float* dlogits, bool accumulate);  \
  /* ---- squared_distance ---- */                                                    \
  /* out[0] = sum (a - b)^2 over n elements. */                                       \
  void squared_distance_forward(const float* a, const float* b, int64_t n, float* out); \
  /* da (+)= 2 * g[0] * (a - b), g a 1-element device buffer. */                      \
  void squared_distance_backward(const float* a, const float* b, const float* g,      \
                            float* da, int64_t n, bool accumulate);                   \
  /* ---- dropout (Philox4x32-10 streams, native/include/philox.h) ---- */            \
  /* The raw stream, for tests: out[4b .. 4b+3] = the words of counter (c + b, c2, c3) \
     under key (k0, k1), c = c1 * 2^32 + c0 (64-bit, carries), for b < nBlocks. */    \
  void philox_blocks(int32_t* out, int64_t nBlocks, int64_t c0, int64_t c1,           \
                     int64_t c2, int64_t c3, int64_t k0, int64_t k1);                 \
  /* Inverted dropout y = x * mask, mask[e] = scale or 0 from element e of the stream \
     (seed, site, step) with keep threshold (philox.h); y may alias x. */             \
  void dropout_forward(const float* x, float* y, int64_t n, int64_t seed,             \
                       int64_t site, int64_t step, int64_t threshold, float scale);   \
  /* dx (+)= dy * mask, the mask regenerated from the same stream. */                 \
  void dropout_backward(const float* dy, float* dx, int64_t n, int64_t seed,          \
                        int64_t site, int64_t step, int64_t threshold, float scale,   \
                        bool accumulate);                                             \
  /* ---- adam ---- */                                                                \
  /* Adam in place (no weight decay): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;     \
     p -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps). halt (may be    \
     null): when *halt != 0 (read on the device) p, m and v are left as they are. */  \
  void adam(float* p, const float* g, float* m, float* v, int64_t n, float lr,        \
            float beta1, float beta2, float eps, int64_t step, const int32_t* halt);  \
  /* The training step's guard: when any of x[0, n) is NaN or Inf and *flag is 0,     \
     *flag = step (>= 1), so it keeps the first non-finite step; a set flag is never  \
     overwritten. bits (may be null): bits[i] = the bit pattern of x[i] (the loss     \
     ring, read with the flag in one copy). No host sync. */                          \
  void flag_nonfinite(const float* x, int64_t n, int64_t step, int32_t* flag,          \
                      int32_t* bits);                                                 \
  }

CLLM4REC_KERNELS(cpu)
#ifdef CLLM4REC_CUDA
CLLM4REC_KERNELS(cuda)
#endif

namespace cpu {
// Threads used by the CPU kernels (OpenMP); 0 = library default.
void set_num_threads(int n);
int num_threads();
}

#ifdef CLLM4REC_CUDA
namespace cuda {
// Device management. Every function throws std::runtime_error with a message that
// names the CUDA call on failure (the addon turns it into a JS Error).
int device_count();            // 0 when no GPU answers (never throws)
const char* device_error();    // why device_count() is 0 (cudaGetErrorName of the cause), else ""
const char* device_name();     // name of device 0, "" when none
void* alloc(size_t bytes);     // caching allocator over cudaMalloc; throws on OOM
void release(void* p, size_t bytes);  // back to the cache
void empty_cache();            // cudaFree everything cached
size_t cached_bytes();
void copy_h2d(void* dst, const void* src, size_t bytes);
void copy_d2h(void* dst, const void* src, size_t bytes);  // syncs the stream
void copy_d2d(void* dst, const void* src, size_t bytes);
void synchronize();            // waits for the stream; throws on a sticky error
void check_last(const char* op);  // after a launch; syncs when CLLM4REC_SYNC=1
// GEMM versions (bench/cuda/gemm): which one cuda::gemm runs (default: the graduated one).
// planSms: the SM count split-K plans for (0 = the device's; tests plan for a big GPU).
void set_gemm_version(int v, int planSms);  // throws for a version that does not exist
int gemm_version();
int gemm_splits(int64_t M, int64_t N, int64_t K, int64_t batch);  // split-K factor of v2
// Attention versions (bench/cuda/attention): 1 = a warp per query (the reference), 2 = flash
// attention on tensor cores (BF16 operands, FP32 accumulate) for head dims 64 and 128.
void set_attention_version(int v);  // throws for a version that does not exist
int attention_version();
int attention_kernel_version(int64_t Dh, int64_t version);  // what runs for Dh and a call's version
// CUDA-event timing of the work queued between start and stop on the stream.
void timer_start();
double timer_stop_ms();  // records the end event, waits for it, returns milliseconds
}
#endif
