// The kernel table: one row per kernel of native/include/kernels.h, grouped by family
// (binder.h describes the spec). Extents are the exact span each kernel can touch,
// derived from the same shape arguments it gets.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "binder.h"

namespace addon {

namespace {

// Host copy of n int32 values of buffer name (read back from the GPU when needed), for
// range checks of ids and targets.
std::vector<int32_t> host_ints(Call& c, const char* name, int64_t n) {
  std::vector<int32_t> out(static_cast<size_t>(n));
  const Buffer* b = c.buffer(name);
  if (n == 0) return out;
#ifdef CLLM4REC_CUDA
  if (b->device == kCuda) {
    cuda::copy_d2h(out.data(), b->ptr, size_t(n) * 4);
    return out;
  }
#endif
  std::memcpy(out.data(), b->ptr, size_t(n) * 4);
  return out;
}

// Targets must be < C (negative = masked row); returns the work, R. On CUDA the kernel
// checks each target itself and the next sync throws (cuda::sync_and_check): reading the
// targets back here would drain the stream on every call.
int64_t check_targets(Call& c) {
  const int64_t R = c.i("R"), C = c.i("C");
  if (c.buffer("target")->device != kCpu) return R;
  const std::vector<int32_t> host = host_ints(c, "target", R);
  for (int64_t r = 0; r < R; ++r)
    if (host[r] >= C)
      c.a.range_error("target " + std::to_string(host[r]) + " of row " + std::to_string(r) +
                      " is outside [0, " + std::to_string(C) + ")");
  return R;
}

// Dropout stream arguments: 32-bit counter and key words, threshold = round(p * 2^24).
int64_t check_dropout(Call& c) {
  for (const char* name : {"seed", "site", "step"})
    if (c.i(name) > 0xffffffffLL)
      c.a.range_error(std::string(name) + " " + std::to_string(c.i(name)) + " does not fit 32 bits");
  if (c.i("threshold") > (int64_t(1) << 24))
    c.a.range_error("threshold " + std::to_string(c.i("threshold")) + " is above 2^24");
  if (!(c.f("scale") >= 1.0f) || !std::isfinite(c.f("scale")))
    c.a.range_error("scale must be finite and >= 1 (1/(1-p)), got " + std::to_string(c.f("scale")));
  return int64_t(1);
}

}  // namespace

void register_kernels(Napi::Env env, Napi::Object exports) {
  // ---- gemm
  ROW(gemm, "transA transB M N K alpha A@offA[batch:strideA,M*K] strideA B@offB[batch:strideB,K*N] "
      "strideB beta C@offC[batch:strideC,M*N]!A!B strideC batch bias?[N]", "M*N*batch",
      [](Call& c) {
        const int64_t mn = c.a.mul(c.i("M"), c.i("N")), strideC = c.i("strideC");
        if (c.i("batch") > 1 && strideC < mn)
          c.a.fail("strideC " + std::to_string(strideC) + " < M*N: batched outputs would overlap");
        return int64_t(1);
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
  // ---- copy
  ROW(copy_strided, "dst@dstOff[batch:dstBatchStride,rows:dstRowStride,cols]!src dstBatchStride "
      "dstRowStride src@srcOff[batch:srcBatchStride,rows:srcRowStride,cols] srcBatchStride "
      "srcRowStride batch rows cols accumulate", "batch*rows*cols");
  // ---- layernorm
  ROW(layernorm_forward, "x[R*D] gamma[D] beta[D] y[R*D] mean[R] rstd[R] R D>=1 eps", "R",
      [](Call& c) {
        if (!(c.f("eps") >= 0.0f)) c.a.fail("eps must be >= 0");
        return int64_t(1);
      });
  ROW(layernorm_backward,
      "dy[R*D] x[R*D] gamma[D] mean[R] rstd[R] dx?[R*D] dgamma?[D] dbeta?[D] R D>=1 accumulateDx", "R",
      [](Call& c) {
        return int64_t(c.buffer("dx") || c.buffer("dgamma") || c.buffer("dbeta"));
      });
  // ---- gelu
  ROW(gelu_forward, "x[n] y[n] n", "n");
  ROW(gelu_backward, "x[n] dy[n] dx[n] n accumulate", "n");
  // ---- attention
  ROW(attention_forward, "q@offQ[B*Tq:ldq,H*Dh] ldq>=H*Dh k=kv@offK[B*Tk:ldk,H*Dh] "
      "v=kv@offV[B*Tk:ldk,H*Dh] ldk>=H*Dh keyMask?[B*Tk] out[B*Tq*H*Dh]!q!k!v lse[B*H*Tq] B H>=1 "
      "Tq Tk>=Tq Dh>=1 seed site step threshold scale", "B*Tq*H*Dh", check_dropout);
  ROW(attention_backward, "dout[B*Tq*H*Dh] q@offQ[B*Tq:ldq,H*Dh] ldq>=H*Dh "
      "k=kv@offK[B*Tk:ldk,H*Dh] v=kv@offV[B*Tk:ldk,H*Dh] ldk>=H*Dh keyMask?[B*Tk] out[B*Tq*H*Dh] "
      "lse[B*H*Tq] dq@offDq[B*Tq:ldq,H*Dh] dk=dkv@offDk[B*Tk:ldk,H*Dh] dv=dkv@offDv[B*Tk:ldk,H*Dh] "
      "B H>=1 Tq Tk>=Tq Dh>=1 seed site step threshold scale", "B*Tq*H*Dh", check_dropout);
  // ---- embedding
  ROW(gather_rows, "table[rows*d] rows d>=1 ids[n] n idBase>=-2147483648 out[n*d] +strict", "n",
      [](Call& c) {
        const int64_t n = c.i("n"), base = c.i("idBase"), end = base + c.i("rows");
        const std::vector<int32_t> ids = c.i("strict") ? host_ints(c, "ids", n) : std::vector<int32_t>();
        for (size_t i = 0; i < ids.size(); ++i)
          if (ids[i] < base || ids[i] >= end)
            c.a.range_error("id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                            " is outside [" + std::to_string(base) + ", " + std::to_string(end) + ")");
        return int64_t(1);
      });
  ROW(scatter_add_rows, "dtable[rows*d]!dout rows d>=1 ids[n] n idBase>=-2147483648 dout[n*d]",
      "n*rows");
  // ---- cross_entropy
  ROW(cross_entropy_forward, "logits[R*C] target[R] loss[R] lse[R] R C>=1", "R", check_targets);
  ROW(cross_entropy_backward, "logits[R*C] target[R] lse[R] dloss[R] dlogits[R*C] R C>=1 accumulate",
      "R", check_targets);
  // ---- multinomial_nll
  ROW(multinomial_nll_forward, "logits[R*C] t[R*C] loss[R] lse[R] R C>=1", "R");
  ROW(multinomial_nll_backward, "logits[R*C] t[R*C] lse[R] dloss[R] dlogits[R*C] R C>=1 accumulate",
      "R");
  // ---- squared_distance
  ROW(squared_distance_forward, "a[n] b[n] n out[1]", "1");
  ROW(squared_distance_backward, "a[n] b[n] g[1] da[n] n accumulate", "n");
  // ---- dropout (y may alias x, dx may alias dy)
  ROW(philox_blocks, "out[nBlocks*4] nBlocks c0 c1 c2 c3 k0 k1", "nBlocks", [](Call& c) {
    for (const char* name : {"c0", "c1", "c2", "c3", "k0", "k1"})
      if (c.i(name) > 0xffffffffLL)
        c.a.range_error(std::string(name) + " " + std::to_string(c.i(name)) + " does not fit 32 bits");
    return int64_t(1);
  });
  ROW(dropout_forward, "x[n] y[n] n seed site step threshold scale", "n", check_dropout);
  ROW(dropout_backward, "dy[n] dx[n] n seed site step threshold scale accumulate", "n",
      check_dropout);
  // ---- adam
  ROW(adam, "p[n] g[n] m[n] v[n] n lr beta1 beta2 eps step>=1", "n", [](Call& c) {
    const float beta1 = c.f("beta1"), beta2 = c.f("beta2");
    if (!(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f))
      c.a.fail("beta1 and beta2 must lie in [0, 1)");
    return int64_t(1);
  });
}

}  // namespace addon
