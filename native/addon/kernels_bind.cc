// Kernel entry points: read and validate arguments, then dispatch. Extents are the
// exact span each kernel can touch, derived from the same shape arguments it gets.
#include <cmath>
#include <cstring>
#include <vector>

#include "dispatch.h"

namespace addon {

namespace {

Napi::Value Undefined(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

// Host copy (or view) of n int32 values of buf starting at off, read back from the GPU
// when needed, for range checks of ids and targets.
std::vector<int32_t> host_ints(const Buffer* buf, int64_t off, int64_t n) {
  std::vector<int32_t> out(static_cast<size_t>(n));
  if (n == 0) return out;
#ifdef CLLM4REC_CUDA
  if (buf->device == kCuda) {
    cuda::copy_d2h(out.data(), data<int32_t>(buf, off), size_t(n) * 4);
    return out;
  }
#endif
  std::memcpy(out.data(), data<int32_t>(buf, off), size_t(n) * 4);
  return out;
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args a(info, "gemm", 18);
  const bool transA = a.flag(0, "transA"), transB = a.flag(1, "transB");
  const int64_t M = a.integer(2, "M"), N = a.integer(3, "N"), K = a.integer(4, "K");
  const int64_t batch = a.integer(16, "batch");
  a.shape("transA", transA);
  a.shape("transB", transB);
  a.shape("M", M);
  a.shape("N", N);
  a.shape("K", K);
  a.shape("batch", batch);
  const float alpha = a.number(5, "alpha"), beta = a.number(12, "beta");
  Buffer* A = a.buffer(6, "A", kF32);
  const int64_t offA = a.integer(7, "offA"), strideA = a.integer(8, "strideA");
  Buffer* B = a.buffer(9, "B", kF32);
  const int64_t offB = a.integer(10, "offB"), strideB = a.integer(11, "strideB");
  Buffer* C = a.buffer(13, "C", kF32);
  const int64_t offC = a.integer(14, "offC"), strideC = a.integer(15, "strideC");
  Buffer* bias = a.optional_buffer(17, "bias", kF32);
  if (M == 0 || N == 0 || batch == 0) return Undefined(info);
  const int64_t mn = a.mul(M, N);
  if (batch > 1 && strideC < mn)
    a.fail("strideC " + std::to_string(strideC) + " < M*N: batched outputs would overlap");
  const int64_t extA = a.block_extent(batch, strideA, 1, 0, a.mul(M, K));
  const int64_t extB = a.block_extent(batch, strideB, 1, 0, a.mul(K, N));
  const int64_t extC = a.block_extent(batch, strideC, 1, 0, mn);
  a.extent(A, "A", offA, extA);
  a.extent(B, "B", offB, extB);
  a.extent(C, "C", offC, extC);
  if (bias) a.extent(bias, "bias", 0, N);
  a.disjoint(C, "C", offC, extC, A, "A", offA, extA);
  a.disjoint(C, "C", offC, extC, B, "B", offB, extB);
  CLLM4REC_DISPATCH(a, "gemm", gemm, transA, transB, M, N, K, alpha, data<float>(A, offA),
                    strideA, data<float>(B, offB), strideB, beta, data<float>(C, offC), strideC,
                    batch, data<float>(bias));
  return Undefined(info);
}

Napi::Value ColSum(const Napi::CallbackInfo& info) {
  Args a(info, "colSum", 5);
  Buffer* X = a.buffer(0, "X", kF32);
  const int64_t rows = a.integer(1, "rows"), cols = a.integer(2, "cols");
  a.shape("rows", rows);
  a.shape("cols", cols);
  Buffer* out = a.buffer(3, "out", kF32);
  const bool accumulate = a.flag(4, "accumulate");
  a.extent(X, "X", 0, a.mul(rows, cols));
  a.extent(out, "out", 0, cols);
  a.disjoint(out, "out", 0, cols, X, "X", 0, a.mul(rows, cols));
  if (cols == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "colSum", col_sum, data<float>(X), rows, cols, data<float>(out),
                    accumulate);
  return Undefined(info);
}

Napi::Value Add(const Napi::CallbackInfo& info) {
  Args a(info, "add", 7);
  Buffer* x = a.buffer(0, "a", kF32);
  const float alpha = a.number(1, "alpha");
  Buffer* y = a.optional_buffer(2, "b", kF32);
  const float beta = a.number(3, "beta");
  Buffer* out = a.buffer(4, "out", kF32);
  const int64_t n = a.integer(5, "n");
  a.shape("n", n);
  const bool accumulate = a.flag(6, "accumulate");
  a.extent(x, "a", 0, n);
  if (y) a.extent(y, "b", 0, n);
  a.extent(out, "out", 0, n);
  if (n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "add", add, data<float>(x), alpha, data<float>(y), beta, data<float>(out),
                    n, accumulate);
  return Undefined(info);
}

Napi::Value Fill(const Napi::CallbackInfo& info) {
  Args a(info, "fill", 3);
  Buffer* out = a.buffer(0, "out", kF32);
  const float value = a.number(1, "value");
  const int64_t n = a.integer(2, "n");
  a.shape("n", n);
  a.extent(out, "out", 0, n);
  if (n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "fill", fill, data<float>(out), value, n);
  return Undefined(info);
}

Napi::Value Sum(const Napi::CallbackInfo& info) {
  Args a(info, "sum", 3);
  Buffer* x = a.buffer(0, "x", kF32);
  const int64_t n = a.integer(1, "n");
  a.shape("n", n);
  Buffer* out = a.buffer(2, "out", kF32);
  a.extent(x, "x", 0, n);
  a.extent(out, "out", 0, 1);
  CLLM4REC_DISPATCH(a, "sum", sum, data<float>(x), n, data<float>(out));
  return Undefined(info);
}

Napi::Value CopyStrided(const Napi::CallbackInfo& info) {
  Args a(info, "copyStrided", 12);
  Buffer* dst = a.buffer(0, "dst", kF32);
  const int64_t dstOff = a.integer(1, "dstOff");
  const int64_t dstBS = a.integer(2, "dstBatchStride"), dstRS = a.integer(3, "dstRowStride");
  Buffer* src = a.buffer(4, "src", kF32);
  const int64_t srcOff = a.integer(5, "srcOff");
  const int64_t srcBS = a.integer(6, "srcBatchStride"), srcRS = a.integer(7, "srcRowStride");
  const int64_t batch = a.integer(8, "batch"), rows = a.integer(9, "rows");
  const int64_t cols = a.integer(10, "cols");
  const bool accumulate = a.flag(11, "accumulate");
  a.shape("batch", batch);
  a.shape("rows", rows);
  a.shape("cols", cols);
  const int64_t extDst = a.block_extent(batch, dstBS, rows, dstRS, cols);
  const int64_t extSrc = a.block_extent(batch, srcBS, rows, srcRS, cols);
  a.extent(dst, "dst", dstOff, extDst);
  a.extent(src, "src", srcOff, extSrc);
  if (extDst == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "copyStrided", copy_strided, data<float>(dst, dstOff), dstBS, dstRS,
                    data<float>(src, srcOff), srcBS, srcRS, batch, rows, cols, accumulate);
  return Undefined(info);
}

Napi::Value LayernormForward(const Napi::CallbackInfo& info) {
  Args a(info, "layernormForward", 9);
  Buffer* x = a.buffer(0, "x", kF32);
  Buffer* gamma = a.buffer(1, "gamma", kF32);
  Buffer* beta = a.buffer(2, "beta", kF32);
  Buffer* y = a.buffer(3, "y", kF32);
  Buffer* mean = a.buffer(4, "mean", kF32);
  Buffer* rstd = a.buffer(5, "rstd", kF32);
  const int64_t R = a.integer(6, "R"), D = a.integer(7, "D", 1);
  a.shape("R", R);
  a.shape("D", D);
  const float eps = a.number(8, "eps");
  if (!(eps >= 0.0f)) a.fail("eps must be >= 0");
  const int64_t rd = a.mul(R, D);
  a.extent(x, "x", 0, rd);
  a.extent(gamma, "gamma", 0, D);
  a.extent(beta, "beta", 0, D);
  a.extent(y, "y", 0, rd);
  a.extent(mean, "mean", 0, R);
  a.extent(rstd, "rstd", 0, R);
  if (R == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "layernormForward", layernorm_forward, data<float>(x), data<float>(gamma),
                    data<float>(beta), data<float>(y), data<float>(mean), data<float>(rstd), R, D,
                    eps);
  return Undefined(info);
}

Napi::Value LayernormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "layernormBackward", 11);
  Buffer* dy = a.buffer(0, "dy", kF32);
  Buffer* x = a.buffer(1, "x", kF32);
  Buffer* gamma = a.buffer(2, "gamma", kF32);
  Buffer* mean = a.buffer(3, "mean", kF32);
  Buffer* rstd = a.buffer(4, "rstd", kF32);
  Buffer* dx = a.optional_buffer(5, "dx", kF32);
  Buffer* dgamma = a.optional_buffer(6, "dgamma", kF32);
  Buffer* dbeta = a.optional_buffer(7, "dbeta", kF32);
  const int64_t R = a.integer(8, "R"), D = a.integer(9, "D", 1);
  a.shape("R", R);
  a.shape("D", D);
  const bool accumulateDx = a.flag(10, "accumulateDx");
  const int64_t rd = a.mul(R, D);
  a.extent(dy, "dy", 0, rd);
  a.extent(x, "x", 0, rd);
  a.extent(gamma, "gamma", 0, D);
  a.extent(mean, "mean", 0, R);
  a.extent(rstd, "rstd", 0, R);
  if (dx) a.extent(dx, "dx", 0, rd);
  if (dgamma) a.extent(dgamma, "dgamma", 0, D);
  if (dbeta) a.extent(dbeta, "dbeta", 0, D);
  if (R == 0 || (!dx && !dgamma && !dbeta)) return Undefined(info);
  CLLM4REC_DISPATCH(a, "layernormBackward", layernorm_backward, data<float>(dy), data<float>(x),
                    data<float>(gamma), data<float>(mean), data<float>(rstd), data<float>(dx),
                    data<float>(dgamma), data<float>(dbeta), R, D, accumulateDx);
  return Undefined(info);
}

Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  Args a(info, "geluForward", 3);
  Buffer* x = a.buffer(0, "x", kF32);
  Buffer* y = a.buffer(1, "y", kF32);
  const int64_t n = a.integer(2, "n");
  a.shape("n", n);
  a.extent(x, "x", 0, n);
  a.extent(y, "y", 0, n);
  if (n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "geluForward", gelu_forward, data<float>(x), data<float>(y), n);
  return Undefined(info);
}

Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "geluBackward", 5);
  Buffer* x = a.buffer(0, "x", kF32);
  Buffer* dy = a.buffer(1, "dy", kF32);
  Buffer* dx = a.buffer(2, "dx", kF32);
  const int64_t n = a.integer(3, "n");
  a.shape("n", n);
  const bool accumulate = a.flag(4, "accumulate");
  a.extent(x, "x", 0, n);
  a.extent(dy, "dy", 0, n);
  a.extent(dx, "dx", 0, n);
  if (n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "geluBackward", gelu_backward, data<float>(x), data<float>(dy),
                    data<float>(dx), n, accumulate);
  return Undefined(info);
}

// Shape checks shared by the attention forward and backward.
struct AttentionShape {
  int64_t B, H, Tq, Tk, Dh, ldq, ldk;
};

AttentionShape attention_shape(Args& a, size_t iB, int64_t ldq, int64_t ldk) {
  AttentionShape s{a.integer(iB, "B"), a.integer(iB + 1, "H", 1), a.integer(iB + 2, "Tq"),
                   a.integer(iB + 3, "Tk"), a.integer(iB + 4, "Dh", 1), ldq, ldk};
  a.shape("B", s.B);
  a.shape("H", s.H);
  a.shape("Tq", s.Tq);
  a.shape("Tk", s.Tk);
  a.shape("Dh", s.Dh);
  a.shape("ldq", ldq);
  a.shape("ldk", ldk);
  const int64_t width = a.mul(s.H, s.Dh);
  if (s.Tk < s.Tq) a.fail("Tk must be >= Tq (keys include every query position)");
  if (ldq < width) a.fail("ldq must be >= H*Dh");
  if (ldk < width) a.fail("ldk must be >= H*Dh");
  return s;
}

Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionForward", 15);
  Buffer* q = a.buffer(0, "q", kF32);
  const int64_t offQ = a.integer(1, "offQ"), ldq = a.integer(2, "ldq");
  Buffer* kv = a.buffer(3, "kv", kF32);
  const int64_t offK = a.integer(4, "offK"), offV = a.integer(5, "offV");
  const int64_t ldk = a.integer(6, "ldk");
  Buffer* mask = a.optional_buffer(7, "keyMask", kI32);
  Buffer* out = a.buffer(8, "out", kF32);
  Buffer* lse = a.buffer(9, "lse", kF32);
  const AttentionShape s = attention_shape(a, 10, ldq, ldk);
  const int64_t width = s.H * s.Dh;
  const int64_t extQ = a.block_extent(1, 0, a.mul(s.B, s.Tq), ldq, width);
  const int64_t extK = a.block_extent(1, 0, a.mul(s.B, s.Tk), ldk, width);
  const int64_t extOut = a.mul(a.mul(s.B, s.Tq), width);
  const int64_t extLse = a.mul(a.mul(s.B, s.H), s.Tq);
  a.extent(q, "q", offQ, extQ);
  a.extent(kv, "k", offK, extK);
  a.extent(kv, "v", offV, extK);
  if (mask) a.extent(mask, "keyMask", 0, a.mul(s.B, s.Tk));
  a.extent(out, "out", 0, extOut);
  a.extent(lse, "lse", 0, extLse);
  a.disjoint(out, "out", 0, extOut, q, "q", offQ, extQ);
  a.disjoint(out, "out", 0, extOut, kv, "kv", std::min(offK, offV),
             std::max(offK, offV) - std::min(offK, offV) + extK);
  if (extOut == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "attentionForward", attention_forward, data<float>(q, offQ), ldq,
                    data<float>(kv, offK), data<float>(kv, offV), ldk, data<int32_t>(mask),
                    data<float>(out), data<float>(lse), s.B, s.H, s.Tq, s.Tk, s.Dh);
  return Undefined(info);
}

Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionBackward", 21);
  Buffer* dout = a.buffer(0, "dout", kF32);
  Buffer* q = a.buffer(1, "q", kF32);
  const int64_t offQ = a.integer(2, "offQ"), ldq = a.integer(3, "ldq");
  Buffer* kv = a.buffer(4, "kv", kF32);
  const int64_t offK = a.integer(5, "offK"), offV = a.integer(6, "offV");
  const int64_t ldk = a.integer(7, "ldk");
  Buffer* mask = a.optional_buffer(8, "keyMask", kI32);
  Buffer* out = a.buffer(9, "out", kF32);
  Buffer* lse = a.buffer(10, "lse", kF32);
  Buffer* dq = a.buffer(11, "dq", kF32);
  const int64_t offDq = a.integer(12, "offDq");
  Buffer* dkv = a.buffer(13, "dkv", kF32);
  const int64_t offDk = a.integer(14, "offDk"), offDv = a.integer(15, "offDv");
  const AttentionShape s = attention_shape(a, 16, ldq, ldk);
  const int64_t width = s.H * s.Dh;
  const int64_t extQ = a.block_extent(1, 0, a.mul(s.B, s.Tq), ldq, width);
  const int64_t extK = a.block_extent(1, 0, a.mul(s.B, s.Tk), ldk, width);
  const int64_t extOut = a.mul(a.mul(s.B, s.Tq), width);
  const int64_t extLse = a.mul(a.mul(s.B, s.H), s.Tq);
  a.extent(dout, "dout", 0, extOut);
  a.extent(q, "q", offQ, extQ);
  a.extent(kv, "k", offK, extK);
  a.extent(kv, "v", offV, extK);
  if (mask) a.extent(mask, "keyMask", 0, a.mul(s.B, s.Tk));
  a.extent(out, "out", 0, extOut);
  a.extent(lse, "lse", 0, extLse);
  a.extent(dq, "dq", offDq, extQ);
  a.extent(dkv, "dk", offDk, extK);
  a.extent(dkv, "dv", offDv, extK);
  if (extOut == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "attentionBackward", attention_backward, data<float>(dout),
                    data<float>(q, offQ), ldq, data<float>(kv, offK), data<float>(kv, offV), ldk,
                    data<int32_t>(mask), data<float>(out), data<float>(lse),
                    data<float>(dq, offDq), data<float>(dkv, offDk), data<float>(dkv, offDv),
                    s.B, s.H, s.Tq, s.Tk, s.Dh);
  return Undefined(info);
}

Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  Args a(info, "gatherRows", 8);
  Buffer* table = a.buffer(0, "table", kF32);
  const int64_t rows = a.integer(1, "rows"), d = a.integer(2, "d", 1);
  Buffer* ids = a.buffer(3, "ids", kI32);
  const int64_t n = a.integer(4, "n");
  const int64_t idBase = a.integer(5, "idBase", INT32_MIN);
  Buffer* out = a.buffer(6, "out", kF32);
  const bool strict = a.flag(7, "strict");
  a.shape("rows", rows);
  a.shape("d", d);
  a.shape("n", n);
  a.shape("idBase", idBase);
  a.extent(table, "table", 0, a.mul(rows, d));
  a.extent(ids, "ids", 0, n);
  a.extent(out, "out", 0, a.mul(n, d));
  if (strict) {
    const std::vector<int32_t> host = host_ints(ids, 0, n);
    for (int64_t i = 0; i < n; ++i)
      if (host[i] < idBase || host[i] >= idBase + rows)
        a.range_error("id " + std::to_string(host[i]) + " at position " + std::to_string(i) +
                      " is outside [" + std::to_string(idBase) + ", " +
                      std::to_string(idBase + rows) + ")");
  }
  if (n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "gatherRows", gather_rows, data<float>(table), rows, d,
                    data<int32_t>(ids), n, idBase, data<float>(out));
  return Undefined(info);
}

Napi::Value ScatterAddRows(const Napi::CallbackInfo& info) {
  Args a(info, "scatterAddRows", 7);
  Buffer* dtable = a.buffer(0, "dtable", kF32);
  const int64_t rows = a.integer(1, "rows"), d = a.integer(2, "d", 1);
  Buffer* ids = a.buffer(3, "ids", kI32);
  const int64_t n = a.integer(4, "n");
  const int64_t idBase = a.integer(5, "idBase", INT32_MIN);
  Buffer* dout = a.buffer(6, "dout", kF32);
  a.shape("rows", rows);
  a.shape("d", d);
  a.shape("n", n);
  a.shape("idBase", idBase);
  a.extent(dtable, "dtable", 0, a.mul(rows, d));
  a.extent(ids, "ids", 0, n);
  a.extent(dout, "dout", 0, a.mul(n, d));
  a.disjoint(dtable, "dtable", 0, a.mul(rows, d), dout, "dout", 0, a.mul(n, d));
  if (n == 0 || rows == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "scatterAddRows", scatter_add_rows, data<float>(dtable), rows, d,
                    data<int32_t>(ids), n, idBase, data<float>(dout));
  return Undefined(info);
}

// Targets must be < C (negative = masked row); read back from the GPU when needed.
void check_targets(Args& a, const Buffer* target, int64_t R, int64_t C) {
  const std::vector<int32_t> host = host_ints(target, 0, R);
  for (int64_t r = 0; r < R; ++r)
    if (host[r] >= C)
      a.range_error("target " + std::to_string(host[r]) + " of row " + std::to_string(r) +
                    " is outside [0, " + std::to_string(C) + ")");
}

Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  Args a(info, "crossEntropyForward", 6);
  Buffer* logits = a.buffer(0, "logits", kF32);
  Buffer* target = a.buffer(1, "target", kI32);
  Buffer* loss = a.buffer(2, "loss", kF32);
  Buffer* lse = a.buffer(3, "lse", kF32);
  const int64_t R = a.integer(4, "R"), C = a.integer(5, "C", 1);
  a.shape("R", R);
  a.shape("C", C);
  a.extent(logits, "logits", 0, a.mul(R, C));
  a.extent(target, "target", 0, R);
  a.extent(loss, "loss", 0, R);
  a.extent(lse, "lse", 0, R);
  check_targets(a, target, R, C);
  if (R == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "crossEntropyForward", cross_entropy_forward, data<float>(logits),
                    data<int32_t>(target), data<float>(loss), data<float>(lse), R, C);
  return Undefined(info);
}

Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  Args a(info, "crossEntropyBackward", 8);
  Buffer* logits = a.buffer(0, "logits", kF32);
  Buffer* target = a.buffer(1, "target", kI32);
  Buffer* lse = a.buffer(2, "lse", kF32);
  Buffer* dloss = a.buffer(3, "dloss", kF32);
  Buffer* dlogits = a.buffer(4, "dlogits", kF32);
  const int64_t R = a.integer(5, "R"), C = a.integer(6, "C", 1);
  a.shape("R", R);
  a.shape("C", C);
  const bool accumulate = a.flag(7, "accumulate");
  a.extent(logits, "logits", 0, a.mul(R, C));
  a.extent(target, "target", 0, R);
  a.extent(lse, "lse", 0, R);
  a.extent(dloss, "dloss", 0, R);
  a.extent(dlogits, "dlogits", 0, a.mul(R, C));
  check_targets(a, target, R, C);
  if (R == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "crossEntropyBackward", cross_entropy_backward, data<float>(logits),
                    data<int32_t>(target), data<float>(lse), data<float>(dloss),
                    data<float>(dlogits), R, C, accumulate);
  return Undefined(info);
}

Napi::Value MultinomialNllForward(const Napi::CallbackInfo& info) {
  Args a(info, "multinomialNllForward", 6);
  Buffer* logits = a.buffer(0, "logits", kF32);
  Buffer* t = a.buffer(1, "t", kF32);
  Buffer* loss = a.buffer(2, "loss", kF32);
  Buffer* lse = a.buffer(3, "lse", kF32);
  const int64_t R = a.integer(4, "R"), C = a.integer(5, "C", 1);
  a.shape("R", R);
  a.shape("C", C);
  a.extent(logits, "logits", 0, a.mul(R, C));
  a.extent(t, "t", 0, a.mul(R, C));
  a.extent(loss, "loss", 0, R);
  a.extent(lse, "lse", 0, R);
  if (R == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "multinomialNllForward", multinomial_nll_forward, data<float>(logits),
                    data<float>(t), data<float>(loss), data<float>(lse), R, C);
  return Undefined(info);
}

Napi::Value MultinomialNllBackward(const Napi::CallbackInfo& info) {
  Args a(info, "multinomialNllBackward", 8);
  Buffer* logits = a.buffer(0, "logits", kF32);
  Buffer* t = a.buffer(1, "t", kF32);
  Buffer* lse = a.buffer(2, "lse", kF32);
  Buffer* dloss = a.buffer(3, "dloss", kF32);
  Buffer* dlogits = a.buffer(4, "dlogits", kF32);
  const int64_t R = a.integer(5, "R"), C = a.integer(6, "C", 1);
  a.shape("R", R);
  a.shape("C", C);
  const bool accumulate = a.flag(7, "accumulate");
  a.extent(logits, "logits", 0, a.mul(R, C));
  a.extent(t, "t", 0, a.mul(R, C));
  a.extent(lse, "lse", 0, R);
  a.extent(dloss, "dloss", 0, R);
  a.extent(dlogits, "dlogits", 0, a.mul(R, C));
  if (R == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "multinomialNllBackward", multinomial_nll_backward, data<float>(logits),
                    data<float>(t), data<float>(lse), data<float>(dloss), data<float>(dlogits),
                    R, C, accumulate);
  return Undefined(info);
}

Napi::Value SquaredDistanceForward(const Napi::CallbackInfo& info) {
  Args a(info, "squaredDistanceForward", 4);
  Buffer* x = a.buffer(0, "a", kF32);
  Buffer* y = a.buffer(1, "b", kF32);
  const int64_t n = a.integer(2, "n");
  a.shape("n", n);
  Buffer* out = a.buffer(3, "out", kF32);
  a.extent(x, "a", 0, n);
  a.extent(y, "b", 0, n);
  a.extent(out, "out", 0, 1);
  CLLM4REC_DISPATCH(a, "squaredDistanceForward", squared_distance_forward, data<float>(x), data<float>(y),
                    n, data<float>(out));
  return Undefined(info);
}

Napi::Value SquaredDistanceBackward(const Napi::CallbackInfo& info) {
  Args a(info, "squaredDistanceBackward", 6);
  Buffer* x = a.buffer(0, "a", kF32);
  Buffer* y = a.buffer(1, "b", kF32);
  Buffer* g = a.buffer(2, "g", kF32);
  Buffer* da = a.buffer(3, "da", kF32);
  const int64_t n = a.integer(4, "n");
  a.shape("n", n);
  const bool accumulate = a.flag(5, "accumulate");
  a.extent(x, "a", 0, n);
  a.extent(y, "b", 0, n);
  a.extent(g, "g", 0, 1);
  a.extent(da, "da", 0, n);
  if (n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "squaredDistanceBackward", squared_distance_backward, data<float>(x), data<float>(y),
                    data<float>(g), data<float>(da), n, accumulate);
  return Undefined(info);
}

Napi::Value Adam(const Napi::CallbackInfo& info) {
  Args a(info, "adam", 10);
  Buffer* p = a.buffer(0, "p", kF32);
  Buffer* g = a.buffer(1, "g", kF32);
  Buffer* m = a.buffer(2, "m", kF32);
  Buffer* v = a.buffer(3, "v", kF32);
  const int64_t n = a.integer(4, "n");
  a.shape("n", n);
  const float lr = a.number(5, "lr"), beta1 = a.number(6, "beta1");
  const float beta2 = a.number(7, "beta2"), eps = a.number(8, "eps");
  const int64_t step = a.integer(9, "step", 1);
  if (!(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f))
    a.fail("beta1 and beta2 must lie in [0, 1)");
  a.extent(p, "p", 0, n);
  a.extent(g, "g", 0, n);
  a.extent(m, "m", 0, n);
  a.extent(v, "v", 0, n);
  if (n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "adam", adam, data<float>(p), data<float>(g), data<float>(m),
                    data<float>(v), n, lr, beta1, beta2, eps, step);
  return Undefined(info);
}

}  // namespace

void register_kernels(Napi::Env env, Napi::Object exports) {
  export_function(env, exports, "gemm", Gemm);
  export_function(env, exports, "colSum", ColSum);
  export_function(env, exports, "add", Add);
  export_function(env, exports, "fill", Fill);
  export_function(env, exports, "sum", Sum);
  export_function(env, exports, "copyStrided", CopyStrided);
  export_function(env, exports, "layernormForward", LayernormForward);
  export_function(env, exports, "layernormBackward", LayernormBackward);
  export_function(env, exports, "geluForward", GeluForward);
  export_function(env, exports, "geluBackward", GeluBackward);
  export_function(env, exports, "attentionForward", AttentionForward);
  export_function(env, exports, "attentionBackward", AttentionBackward);
  export_function(env, exports, "gatherRows", GatherRows);
  export_function(env, exports, "scatterAddRows", ScatterAddRows);
  export_function(env, exports, "crossEntropyForward", CrossEntropyForward);
  export_function(env, exports, "crossEntropyBackward", CrossEntropyBackward);
  export_function(env, exports, "multinomialNllForward", MultinomialNllForward);
  export_function(env, exports, "multinomialNllBackward", MultinomialNllBackward);
  export_function(env, exports, "squaredDistanceForward", SquaredDistanceForward);
  export_function(env, exports, "squaredDistanceBackward", SquaredDistanceBackward);
  export_function(env, exports, "adam", Adam);
}

}  // namespace addon
