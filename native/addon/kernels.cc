// The kernel table (binder.h): a row per kernel of kernels.h and kernels_cpu.h by family, the host queries, and Init.
// Extents are the exact span each kernel can touch, from its shape arguments.
#include "binder.h"
#include "kernels_cpu.h"

using namespace addon;
using std::to_string;
namespace {
// The first of n int32 values of `name` outside [lo, hi) is a RangeError "<what> <value> <where> <index> <tail>".
void within(const Call& c, const char* name, int64_t n, int64_t lo, int64_t hi, const std::string& what,
            const char* where, const std::string& tail) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  read_back(c.buffer(name), v.data(), v.size() * 4);
  for (size_t r = 0; r < v.size(); ++r)
    if (v[r] < lo || v[r] >= hi)
      c.a.range_error(what + " " + to_string(v[r]) + " " + where + " " + to_string(r) + " " + tail);
}

// Targets < C (negative: a masked row); on CUDA the kernel checks them (a read-back here would drain the stream).
void check_targets(Call& c) {
  if (c.buffer("target")->device != kCpu) return;
  within(c, "target", c.i("R"), INT32_MIN, c.i("C"), "target", "of row", "is outside [0, " + to_string(c.i("C")) + ")");
}

// CSR targets (multinomial_nll): the row pointers' extent and the chunk; the kernels check the rows and columns.
void check_csr(Call& c) {
  c.extent("rowPtr", c.a.add(c.i("R"), 1));
  c.require(c.i("c0") <= c.i("C") - c.i("W"), "the chunk [c0, c0 + W) must lie within [0, C)");
}

// Dropout stream arguments: 32-bit counter and key words, threshold = round(p * 2^24).
void check_words(const Call& c, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (c.i(n) > 0xffffffffLL) c.a.range_error(std::string(n) + " " + to_string(c.i(n)) + " does not fit 32 bits");
}
void check_dropout(Call& c) {
  check_words(c, {"seed", "site", "step"});
  if (c.i("threshold") > 1 << 24) c.a.range_error("threshold " + to_string(c.i("threshold")) + " is above 2^24");
  if (!(c.f("scale") >= 1.0f) || !std::isfinite(c.f("scale")))
    c.a.range_error("scale must be finite and >= 1 (1/(1-p)), got " + to_string(c.f("scale")));
}
void check_attention(Call& c) {
  check_dropout(c);
  c.require(c.i("version") <= 2, "version must be 0 (default), 1 (FP32) or 2 (flash)");
}
}  // namespace

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  register_memory(env, exports);
  ROW(gemm, "transA transB M N K alpha A@offA[batch:strideA,M*K] strideA B@offB[batch:strideB,K*N] "
      "strideB beta C@offC[batch:strideC,M*N]!A!B strideC batch bias?[N]", "M*N*batch", [](Call& c) {
        if (c.i("batch") > 1 && c.i("strideC") < c.a.mul(c.i("M"), c.i("N")))
          c.a.fail("strideC " + to_string(c.i("strideC")) + " < M*N: batched outputs would overlap");
      });
  // frozen BF16 weights on either device (the CUDA path; the CPU twin is its oracle)
  ROW(f32_to_bf16, "x[n] n dst", "n", [](Call& c) { c.extent("dst", (c.i("n") + 1) / 2); });
  ROW(gemm_bf16_b, "transA transB M N K alpha A@offA[M*K] Bh beta C@offC[M*N]!A bias?[N]", "M*N",
      [](Call& c) { c.extent("Bh", (c.a.mul(c.i("K"), c.i("N")) + 1) / 2); });
  ROW(gemm_gelu, "M N K A[M*K] B[K*N] bias?[N] pre[M*N]!A!B out[M*N]!A!B!pre", "M*N");
  ROW(gemm_bf16_b_gelu, "M N K A[M*K] Bh bias?[N] pre[M*N]!A out[M*N]!A!pre", "M*N",
      [](Call& c) { c.extent("Bh", (c.a.mul(c.i("K"), c.i("N")) + 1) / 2); });
  // the CPU's BF16 GEMM: weights packed once, fp32 accumulation
  CPU_ROW(bf16_pack_b, "transB B[K*N] K N dst", "K*N",
          [](Call& c) { c.extent("dst", cpu::bf16_packed_words(c.i("K"), c.i("N"))); });
  CPU_ROW(gemm_bf16, "transA M N K>=1 alpha A@offA[M*K] Bp beta C@offC[M*N]!A bias?[N]", "M*N", [](Call& c) {
    c.require(cpu::has_avx512_bf16(), "this CPU has no AVX512_BF16 (check bf16Supported() first)");
    c.extent("Bp", cpu::bf16_packed_words(c.i("K"), c.i("N")));
  });
  // ---- elementwise: outputs may alias inputs of the same size
  ROW(add, "a[n] alpha b?[n] beta out[n] n accumulate", "n");
  ROW(fill, "out[n] value n", "n");
  ROW(mul, "a[n] b[n] out[n] n accumulate", "n");
  ROW(tanh_forward, "x[n] y[n] n", "n");
  ROW(tanh_backward, "y[n] dy[n] dx[n] n accumulate", "n");
  ROW(exp_forward, "x[n] scale y[n] n", "n");
  ROW(exp_backward, "y[n] dy[n] scale dx[n] n accumulate", "n");
  ROW(log_sigmoid_forward, "x[n] y[n] n", "n");
  ROW(log_sigmoid_backward, "x[n] dy[n] dx[n] n accumulate", "n");
  // ---- reduce (the sum of nothing is 0: always written)
  ROW(sum, "x[n] n out[1]", "1");
  ROW(col_sum, "X[rows*cols] rows cols out[cols]!X accumulate", "cols");
  ROW(row_sum_forward, "X[R*C] R C out[R]!X accumulate", "R");
  ROW(row_sum_backward, "dout[R] R C dX[R*C]!dout accumulate", "R*C");
  ROW(copy_strided, "dst@dstOff[batch:dstBatchStride,rows:dstRowStride,cols]!src dstBatchStride "
      "dstRowStride src@srcOff[batch:srcBatchStride,rows:srcRowStride,cols] srcBatchStride "
      "srcRowStride batch rows cols accumulate", "batch*rows*cols");
  ROW(layernorm_forward, "x[R*D] gamma[D] beta[D] y[R*D] mean[R] rstd[R] R D>=1 eps", "R",
      [](Call& c) { c.require(c.f("eps") >= 0.0f, "eps must be >= 0"); });
  ROW(layernorm_backward, "dy[R*D] x[R*D] gamma[D] mean[R] rstd[R] dx?[R*D] dgamma?[D] dbeta?[D] R D>=1 accumulateDx",
      "R", [](Call& c) { c.launch = c.buffer("dx") || c.buffer("dgamma") || c.buffer("dbeta"); });
  ROW(gelu_forward, "x[n] y[n] n", "n");
  ROW(gelu_backward, "x[n] dy[n] dx[n] n accumulate", "n");
  ROW(attention_forward, "q@offQ[B*Tq:ldq,H*Dh] ldq>=H*Dh k=kv@offK[B*Tk:ldk,H*Dh] "
      "v=kv@offV[B*Tk:ldk,H*Dh] ldk>=H*Dh keyMask?[B*Tk] out[B*Tq*H*Dh]!q!k!v lse[B*H*Tq] B H>=1 "
      "Tq Tk>=Tq Dh>=1 seed site step threshold scale version>=0", "B*Tq*H*Dh", check_attention);
  ROW(attention_backward, "dout[B*Tq*H*Dh] q@offQ[B*Tq:ldq,H*Dh] ldq>=H*Dh "
      "k=kv@offK[B*Tk:ldk,H*Dh] v=kv@offV[B*Tk:ldk,H*Dh] ldk>=H*Dh keyMask?[B*Tk] out[B*Tq*H*Dh] "
      "lse[B*H*Tq] dq@offDq[B*Tq:ldq,H*Dh] dk=dkv@offDk[B*Tk:ldk,H*Dh] dv=dkv@offDv[B*Tk:ldk,H*Dh] "
      "B H>=1 Tq Tk>=Tq Dh>=1 seed site step threshold scale version>=0", "B*Tq*H*Dh", check_attention);
  // ---- embedding: strict ids are checked on the host
  ROW(gather_rows, "table[rows*d] rows d>=1 ids[n] n idBase>=-2147483648 out[n*d] +strict", "n", [](Call& c) {
    const int64_t base = c.i("idBase"), end = base + c.i("rows");
    const std::string range = "is outside [" + to_string(base) + ", " + to_string(end) + ")";
    if (c.i("strict")) within(c, "ids", c.i("n"), base, end, "id", "at position", range);
  });
  ROW(scatter_add_rows, "dtable[rows*d]!dout rows d>=1 ids[n] n idBase>=-2147483648 dout[n*d]", "n*rows");
  // ---- cross_entropy (and the CPU's fused vocabulary head), multinomial_nll, squared_distance, adam
  ROW(cross_entropy_forward, "logits[R*C] target[R] loss[R] lse[R] R C>=1", "R", check_targets);
  ROW(cross_entropy_backward, "logits[R*C] target[R] lse[R] dloss[R] dlogits[R*C] R C>=1 accumulate", "R",
      check_targets);
  CPU_ROW(linear_xent_forward, "h[n*d] W[C*d] target[n] loss[n] lse[n] dh?[n*d]!h!W n C>=1 d>=1", "n", [](Call& c) {
    const std::string range = "is out of range for " + to_string(c.i("C")) + " classes";
    within(c, "target", c.i("n"), INT32_MIN, c.i("C"), "target", "at row", range);
  });
  CPU_ROW(linear_xent_bf16_forward, "h[n*d] W[C*d] Wtb Wrb target[n] loss[n] lse[n] dh?[n*d]!h!W n C>=1 d>=1", "n",
          [](Call& c) {
            c.require(cpu::has_avx512_bf16(), "this CPU has no AVX512_BF16 (check bf16Supported() first)");
            c.extent("Wtb", cpu::bf16_packed_words(c.i("d"), c.i("C")));
            c.extent("Wrb", cpu::bf16_packed_words(c.i("C"), c.i("d")));
            const std::string range = "is out of range for " + to_string(c.i("C")) + " classes";
            within(c, "target", c.i("n"), INT32_MIN, c.i("C"), "target", "at row", range);
          });
  ROW(multinomial_nll_forward, "logits[R*W] R W>=1 c0 C>=1 rowPtr cols[nnz] values?[nnz] nnz lse[R] stx[R] "
      "loss[R] first last", "R", check_csr);
  ROW(multinomial_nll_backward, "logits[R*W] R W>=1 c0 C>=1 rowPtr cols[nnz] values?[nnz] nnz lse[R] dloss[R] "
      "dlogits[R*W] accumulate", "R", check_csr);
  ROW(squared_distance_forward, "a[n] b[n] n out[1]", "1");
  ROW(squared_distance_backward, "a[n] b[n] g[1] da[n] n accumulate", "n");
  // ---- dropout (y may alias x, dx may alias dy)
  ROW(philox_blocks, "out[nBlocks*4] nBlocks c0 c1 c2 c3 k0 k1", "nBlocks",
      [](Call& c) { check_words(c, {"c0", "c1", "c2", "c3", "k0", "k1"}); });
  ROW(dropout_forward, "x[n] y[n] n seed site step threshold scale", "n", check_dropout);
  ROW(dropout_backward, "dy[n] dx[n] n seed site step threshold scale accumulate", "n", check_dropout);
  ROW(adam, "p[n] g[n] m[n] v[n] n lr beta1 beta2 eps step>=1 halt?@offHalt[1]", "n", [](Call& c) {
    const float b1 = c.f("beta1"), b2 = c.f("beta2");
    c.require(b1 >= 0.0f && b1 < 1.0f && b2 >= 0.0f && b2 < 1.0f, "beta1 and beta2 must lie in [0, 1)");
  });
  ROW(flag_nonfinite, "x[n] n step>=1 flag@offFlag[1] bits?@offBits[n]!flag", "n",
      [](Call& c) { c.require(c.i("step") <= INT32_MAX, "step must fit in int32"); });
  // ---- queries of the CPU kernels; fmaPeak(kind, seconds) -> { flops, lanes }
  QUERY("bf16Supported", cpu::has_avx512_bf16, "");
  QUERY("cpuIsa", cpu::cpu_isa, "");
  QUERY("bf16PackedWords", cpu::bf16_packed_words, "K N");
  export_function(env, exports, "fmaPeak", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Args a(info, "fmaPeak", 2);
    const int64_t kind = a.integer(0, "kind");
    if (kind > 1) a.fail("kind must be 0 (fp32) or 1 (bf16)");
    const float seconds = float(a.number(1, "seconds"));
    if (!(seconds > 0 && seconds <= 60)) a.fail("seconds must be in (0, 60]");
    int lanes = 0;
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("flops", cpu::fma_peak(int(kind), seconds, &lanes));
    o.Set("lanes", lanes);
    return o;
  });
  // ---- the GEMM benchmark's hooks (bench/cuda): the version cuda::gemm runs, its split-K plan, event timing
  GPU_QUERY("setGemmVersion", set_gemm_version, "version>=1 planSms", "", [](Call& c) {
    c.require(c.i("version") <= 1000 && c.i("planSms") <= 100000, "version must be <= 1000 and planSms <= 100000");
  });
  GPU_QUERY("gemmVersion", gemm_version, "");
  GPU_QUERY("gemmSplits", gemm_splits, "M N K batch");
  // the attention benchmark's hooks (bench/cuda/attention): the version cuda::attention_* runs
  GPU_QUERY("setAttentionVersion", set_attention_version, "version>=1", "",
            [](Call& c) { c.require(c.i("version") <= 1000, "version must be <= 1000"); });
  GPU_QUERY("attentionVersion", attention_version, "");
  GPU_QUERY("attentionKernelVersion", attention_kernel_version, "Dh>=1 version>=0", "",
            [](Call& c) { c.require(c.i("version") <= 2, "version must be 0, 1 or 2"); });
  GPU_QUERY("cudaTimerStart", timer_start, "");
  GPU_QUERY("cudaTimerStopMs", timer_stop_ms, "");
  return exports;
}

NODE_API_MODULE(cllm4rec, Init)
