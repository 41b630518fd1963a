// The kernel table: one row per entry of native/include/kernels.h, grouped by family.
// A row names its parameters (the order of the JS call), states the relations between
// shapes and the exact extent each buffer may be touched over, and launches with the
// number of output elements (0 skips the launch). binder.h does the rest.
#include <algorithm>
#include <cstring>
#include <vector>

#include "binder.h"

namespace addon {

namespace {

// Host copy of n int32 values of buf from off, read back from the GPU when needed, for
// range checks of ids and targets.
std::vector<int32_t> host_ints(const I32& buf, int64_t off, int64_t n) {
  std::vector<int32_t> out(static_cast<size_t>(n));
  if (n == 0) return out;
#ifdef CLLM4REC_CUDA
  if (buf.b->device == kCuda) {
    cuda::copy_d2h(out.data(), buf.at(off), size_t(n) * 4);
    return out;
  }
#endif
  std::memcpy(out.data(), buf.at(off), size_t(n) * 4);
  return out;
}

// Targets must be < C (negative = masked row).
void check_targets(Args& a, const I32& target, int64_t R, int64_t C) {
  const std::vector<int32_t> host = host_ints(target, 0, R);
  for (int64_t r = 0; r < R; ++r)
    if (host[r] >= C)
      a.range_error("target " + std::to_string(host[r]) + " of row " + std::to_string(r) +
                    " is outside [0, " + std::to_string(C) + ")");
}

// Every id must lie in [idBase, idBase + rows).
void check_ids(Args& a, const I32& ids, int64_t n, int64_t rows, int64_t idBase) {
  const std::vector<int32_t> host = host_ints(ids, 0, n);
  for (int64_t i = 0; i < n; ++i)
    if (host[i] < idBase || host[i] >= idBase + rows)
      a.range_error("id " + std::to_string(host[i]) + " at position " + std::to_string(i) +
                    " is outside [" + std::to_string(idBase) + ", " +
                    std::to_string(idBase + rows) + ")");
}

// Extents shared by the attention forward and backward: q rows [B*Tq] of ldq floats, k
// and v rows [B*Tk] of ldk floats, out [B*Tq, H*Dh], lse [B, H, Tq].
struct AttentionExtents {
  int64_t q, k, out, lse;
};
AttentionExtents attention_extents(Args& a, int64_t ldq, int64_t ldk, int64_t B, int64_t H,
                                   int64_t Tq, int64_t Tk, int64_t Dh) {
  const int64_t width = a.mul(H, Dh);
  if (Tk < Tq) a.fail("Tk must be >= Tq (keys include every query position)");
  if (ldq < width) a.fail("ldq must be >= H*Dh");
  if (ldk < width) a.fail("ldk must be >= H*Dh");
  return {a.block_extent(1, 0, a.mul(B, Tq), ldq, width),
          a.block_extent(1, 0, a.mul(B, Tk), ldk, width), a.mul(a.mul(B, Tq), width),
          a.mul(a.mul(B, H), Tq)};
}

// A key-padding mask [B, Tk] when given; k and v are two column ranges of one buffer.
void attention_inputs(Args& a, const F32& kv, int64_t offK, int64_t offV, const OptI32& mask,
                      int64_t B, int64_t Tk, int64_t extK) {
  a.extent(kv.b, "k", offK, extK);
  a.extent(kv.b, "v", offV, extK);
  a.extent(mask, 0, a.mul(B, Tk));
}

}  // namespace

void register_kernels(Napi::Env env, Napi::Object exports) {
  // ---- gemm
  ROW(gemm, "transA transB M N K alpha A offA strideA B offB strideB beta C offC strideC batch bias",
      [](Args& a, const Run& run, bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha,
         F32 A, int64_t offA, int64_t sA, F32 B, int64_t offB, int64_t sB, float beta, F32 C,
         int64_t offC, int64_t sC, int64_t batch, OptF32 bias) {
        const int64_t mn = a.mul(M, N);
        if (batch > 1 && sC < mn && mn > 0)
          a.fail("strideC " + std::to_string(sC) + " < M*N: batched outputs would overlap");
        const int64_t extA = a.block_extent(batch, sA, 1, 0, a.mul(M, K));
        const int64_t extB = a.block_extent(batch, sB, 1, 0, a.mul(K, N));
        const int64_t extC = a.block_extent(batch, sC, 1, 0, mn);
        a.extent(A, offA, extA);
        a.extent(B, offB, extB);
        a.extent(C, offC, extC);
        a.extent(bias, 0, N);
        a.disjoint(C, offC, extC, A, offA, extA);
        a.disjoint(C, offC, extC, B, offB, extB);
        run(a, extC, tA, tB, M, N, K, alpha, A.at(offA), sA, B.at(offB), sB, beta, C.at(offC), sC,
            batch, bias.at());
      });
  // ---- elementwise: outputs may alias inputs of the same size
  ROW(add, "a alpha b beta out n accumulate",
      [](Args& a, const Run& run, F32 x, float alpha, OptF32 y, float beta, F32 out, int64_t n,
         bool acc) {
        a.extents(0, n, x, y, out);
        run(a, n, x.at(), alpha, y.at(), beta, out.at(), n, acc);
      });
  ROW(fill, "out value n", [](Args& a, const Run& run, F32 out, float value, int64_t n) {
    a.extent(out, 0, n);
    run(a, n, out.at(), value, n);
  });
  ROW(mul, "a b out n accumulate",
      [](Args& a, const Run& run, F32 x, F32 y, F32 out, int64_t n, bool acc) {
        a.extents(0, n, x, y, out);
        run(a, n, x.at(), y.at(), out.at(), n, acc);
      });
  ROW(tanh_forward, "x y n", [](Args& a, const Run& run, F32 x, F32 y, int64_t n) {
    a.extents(0, n, x, y);
    run(a, n, x.at(), y.at(), n);
  });
  ROW(tanh_backward, "y dy dx n accumulate",
      [](Args& a, const Run& run, F32 y, F32 dy, F32 dx, int64_t n, bool acc) {
        a.extents(0, n, y, dy, dx);
        run(a, n, y.at(), dy.at(), dx.at(), n, acc);
      });
  ROW(exp_forward, "x scale y n",
      [](Args& a, const Run& run, F32 x, float scale, F32 y, int64_t n) {
        a.extents(0, n, x, y);
        run(a, n, x.at(), scale, y.at(), n);
      });
  ROW(exp_backward, "y dy scale dx n accumulate",
      [](Args& a, const Run& run, F32 y, F32 dy, float scale, F32 dx, int64_t n, bool acc) {
        a.extents(0, n, y, dy, dx);
        run(a, n, y.at(), dy.at(), scale, dx.at(), n, acc);
      });
  ROW(log_sigmoid_forward, "x y n", [](Args& a, const Run& run, F32 x, F32 y, int64_t n) {
    a.extents(0, n, x, y);
    run(a, n, x.at(), y.at(), n);
  });
  ROW(log_sigmoid_backward, "x dy dx n accumulate",
      [](Args& a, const Run& run, F32 x, F32 dy, F32 dx, int64_t n, bool acc) {
        a.extents(0, n, x, dy, dx);
        run(a, n, x.at(), dy.at(), dx.at(), n, acc);
      });
  // ---- reduce
  ROW(sum, "x n out", [](Args& a, const Run& run, F32 x, int64_t n, F32 out) {
    a.extent(x, 0, n);
    a.extent(out, 0, 1);
    run(a, 1, x.at(), n, out.at());  // the sum of nothing is 0: always written
  });
  ROW(col_sum, "X rows cols out accumulate",
      [](Args& a, const Run& run, F32 X, int64_t rows, int64_t cols, F32 out, bool acc) {
        const int64_t rc = a.mul(rows, cols);
        a.extent(X, 0, rc);
        a.extent(out, 0, cols);
        a.disjoint(out, 0, cols, X, 0, rc);
        run(a, cols, X.at(), rows, cols, out.at(), acc);
      });
  ROW(row_sum_forward, "X R C out accumulate",
      [](Args& a, const Run& run, F32 X, int64_t R, int64_t C, F32 out, bool acc) {
        const int64_t rc = a.mul(R, C);
        a.extent(X, 0, rc);
        a.extent(out, 0, R);
        a.disjoint(out, 0, R, X, 0, rc);
        run(a, R, X.at(), R, C, out.at(), acc);
      });
  ROW(row_sum_backward, "dout R C dX accumulate",
      [](Args& a, const Run& run, F32 dout, int64_t R, int64_t C, F32 dX, bool acc) {
        const int64_t rc = a.mul(R, C);
        a.extent(dout, 0, R);
        a.extent(dX, 0, rc);
        a.disjoint(dX, 0, rc, dout, 0, R);
        run(a, rc, dout.at(), R, C, dX.at(), acc);
      });
  // ---- copy
  ROW(copy_strided,
      "dst dstOff dstBatchStride dstRowStride src srcOff srcBatchStride srcRowStride batch rows "
      "cols accumulate",
      [](Args& a, const Run& run, F32 dst, int64_t dstOff, int64_t dBS, int64_t dRS, F32 src,
         int64_t srcOff, int64_t sBS, int64_t sRS, int64_t batch, int64_t rows, int64_t cols,
         bool acc) {
        const int64_t extDst = a.block_extent(batch, dBS, rows, dRS, cols);
        a.extent(dst, dstOff, extDst);
        a.extent(src, srcOff, a.block_extent(batch, sBS, rows, sRS, cols));
        run(a, extDst, dst.at(dstOff), dBS, dRS, src.at(srcOff), sBS, sRS, batch, rows, cols,
            acc);
      });
  // ---- layernorm
  ROW(layernorm_forward, "x gamma beta y mean rstd R D>=1 eps",
      [](Args& a, const Run& run, F32 x, F32 gamma, F32 beta, F32 y, F32 mean, F32 rstd,
         int64_t R, int64_t D, float eps) {
        if (!(eps >= 0.0f)) a.fail("eps must be >= 0");
        const int64_t rd = a.mul(R, D);
        a.extent(x, 0, rd);
        a.extents(0, D, gamma, beta);
        a.extent(y, 0, rd);
        a.extents(0, R, mean, rstd);
        run(a, R, x.at(), gamma.at(), beta.at(), y.at(), mean.at(), rstd.at(), R, D, eps);
      });
  ROW(layernorm_backward, "dy x gamma mean rstd dx dgamma dbeta R D>=1 accumulateDx",
      [](Args& a, const Run& run, F32 dy, F32 x, F32 gamma, F32 mean, F32 rstd, OptF32 dx,
         OptF32 dgamma, OptF32 dbeta, int64_t R, int64_t D, bool accDx) {
        const int64_t rd = a.mul(R, D);
        a.extents(0, rd, dy, x);
        a.extent(gamma, 0, D);
        a.extents(0, R, mean, rstd);
        a.extent(dx, 0, rd);
        a.extents(0, D, dgamma, dbeta);
        run(a, dx || dgamma || dbeta ? R : 0, dy.at(), x.at(), gamma.at(), mean.at(), rstd.at(),
            dx.at(), dgamma.at(), dbeta.at(), R, D, accDx);
      });
  // ---- gelu
  ROW(gelu_forward, "x y n", [](Args& a, const Run& run, F32 x, F32 y, int64_t n) {
    a.extents(0, n, x, y);
    run(a, n, x.at(), y.at(), n);
  });
  ROW(gelu_backward, "x dy dx n accumulate",
      [](Args& a, const Run& run, F32 x, F32 dy, F32 dx, int64_t n, bool acc) {
        a.extents(0, n, x, dy, dx);
        run(a, n, x.at(), dy.at(), dx.at(), n, acc);
      });
  // ---- attention
  ROW(attention_forward, "q offQ ldq kv offK offV ldk keyMask out lse B H>=1 Tq Tk Dh>=1",
      [](Args& a, const Run& run, F32 q, int64_t offQ, int64_t ldq, F32 kv, int64_t offK,
         int64_t offV, int64_t ldk, OptI32 mask, F32 out, F32 lse, int64_t B, int64_t H,
         int64_t Tq, int64_t Tk, int64_t Dh) {
        const AttentionExtents e = attention_extents(a, ldq, ldk, B, H, Tq, Tk, Dh);
        a.extent(q, offQ, e.q);
        attention_inputs(a, kv, offK, offV, mask, B, Tk, e.k);
        a.extent(out, 0, e.out);
        a.extent(lse, 0, e.lse);
        a.disjoint(out, 0, e.out, q, offQ, e.q);
        a.disjoint(out, 0, e.out, kv, std::min(offK, offV),
                   std::max(offK, offV) - std::min(offK, offV) + e.k);
        run(a, e.out, q.at(offQ), ldq, kv.at(offK), kv.at(offV), ldk, mask.at(), out.at(),
            lse.at(), B, H, Tq, Tk, Dh);
      });
  ROW(attention_backward,
      "dout q offQ ldq kv offK offV ldk keyMask out lse dq offDq dkv offDk offDv B H>=1 Tq Tk "
      "Dh>=1",
      [](Args& a, const Run& run, F32 dout, F32 q, int64_t offQ, int64_t ldq, F32 kv,
         int64_t offK, int64_t offV, int64_t ldk, OptI32 mask, F32 out, F32 lse, F32 dq,
         int64_t offDq, F32 dkv, int64_t offDk, int64_t offDv, int64_t B, int64_t H,
         int64_t Tq, int64_t Tk, int64_t Dh) {
        const AttentionExtents e = attention_extents(a, ldq, ldk, B, H, Tq, Tk, Dh);
        a.extent(dout, 0, e.out);
        a.extent(q, offQ, e.q);
        attention_inputs(a, kv, offK, offV, mask, B, Tk, e.k);
        a.extent(out, 0, e.out);
        a.extent(lse, 0, e.lse);
        a.extent(dq, offDq, e.q);
        a.extent(dkv.b, "dk", offDk, e.k);
        a.extent(dkv.b, "dv", offDv, e.k);
        run(a, e.out, dout.at(), q.at(offQ), ldq, kv.at(offK), kv.at(offV), ldk, mask.at(),
            out.at(), lse.at(), dq.at(offDq), dkv.at(offDk), dkv.at(offDv), B, H, Tq, Tk, Dh);
      });
  // ---- embedding
  ROW(gather_rows, "table rows d>=1 ids n idBase>=-2147483648 out strict",
      [](Args& a, const Run& run, F32 table, int64_t rows, int64_t d, I32 ids, int64_t n,
         int64_t idBase, F32 out, bool strict) {
        a.extent(table, 0, a.mul(rows, d));
        a.extent(ids, 0, n);
        a.extent(out, 0, a.mul(n, d));
        if (strict) check_ids(a, ids, n, rows, idBase);
        run(a, n, table.at(), rows, d, ids.at(), n, idBase, out.at());
      });
  ROW(scatter_add_rows, "dtable rows d>=1 ids n idBase>=-2147483648 dout",
      [](Args& a, const Run& run, F32 dtable, int64_t rows, int64_t d, I32 ids, int64_t n,
         int64_t idBase, F32 dout) {
        const int64_t extT = a.mul(rows, d), extD = a.mul(n, d);
        a.extent(dtable, 0, extT);
        a.extent(ids, 0, n);
        a.extent(dout, 0, extD);
        a.disjoint(dtable, 0, extT, dout, 0, extD);
        run(a, rows == 0 ? 0 : n, dtable.at(), rows, d, ids.at(), n, idBase, dout.at());
      });
  // ---- cross_entropy
  ROW(cross_entropy_forward, "logits target loss lse R C>=1",
      [](Args& a, const Run& run, F32 logits, I32 target, F32 loss, F32 lse, int64_t R,
         int64_t C) {
        a.extent(logits, 0, a.mul(R, C));
        a.extents(0, R, target, loss, lse);
        check_targets(a, target, R, C);
        run(a, R, logits.at(), target.at(), loss.at(), lse.at(), R, C);
      });
  ROW(cross_entropy_backward, "logits target lse dloss dlogits R C>=1 accumulate",
      [](Args& a, const Run& run, F32 logits, I32 target, F32 lse, F32 dloss, F32 dlogits,
         int64_t R, int64_t C, bool acc) {
        a.extent(logits, 0, a.mul(R, C));
        a.extents(0, R, target, lse, dloss);
        a.extent(dlogits, 0, a.mul(R, C));
        check_targets(a, target, R, C);
        run(a, R, logits.at(), target.at(), lse.at(), dloss.at(), dlogits.at(), R, C, acc);
      });
  // ---- multinomial_nll
  ROW(multinomial_nll_forward, "logits t loss lse R C>=1",
      [](Args& a, const Run& run, F32 logits, F32 t, F32 loss, F32 lse, int64_t R, int64_t C) {
        a.extents(0, a.mul(R, C), logits, t);
        a.extents(0, R, loss, lse);
        run(a, R, logits.at(), t.at(), loss.at(), lse.at(), R, C);
      });
  ROW(multinomial_nll_backward, "logits t lse dloss dlogits R C>=1 accumulate",
      [](Args& a, const Run& run, F32 logits, F32 t, F32 lse, F32 dloss, F32 dlogits, int64_t R,
         int64_t C, bool acc) {
        a.extents(0, a.mul(R, C), logits, t);
        a.extents(0, R, lse, dloss);
        a.extent(dlogits, 0, a.mul(R, C));
        run(a, R, logits.at(), t.at(), lse.at(), dloss.at(), dlogits.at(), R, C, acc);
      });
  // ---- squared_distance
  ROW(squared_distance_forward, "a b n out",
      [](Args& a, const Run& run, F32 x, F32 y, int64_t n, F32 out) {
        a.extents(0, n, x, y);
        a.extent(out, 0, 1);
        run(a, 1, x.at(), y.at(), n, out.at());  // the sum of nothing is 0: always written
      });
  ROW(squared_distance_backward, "a b g da n accumulate",
      [](Args& a, const Run& run, F32 x, F32 y, F32 g, F32 da, int64_t n, bool acc) {
        a.extents(0, n, x, y);
        a.extent(g, 0, 1);
        a.extent(da, 0, n);
        run(a, n, x.at(), y.at(), g.at(), da.at(), n, acc);
      });
  // ---- adam
  ROW(adam, "p g m v n lr beta1 beta2 eps step>=1",
      [](Args& a, const Run& run, F32 p, F32 g, F32 m, F32 v, int64_t n, float lr, float beta1,
         float beta2, float eps, int64_t step) {
        if (!(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f))
          a.fail("beta1 and beta2 must lie in [0, 1)");
        a.extents(0, n, p, g, m, v);
        run(a, n, p.at(), g.at(), m.at(), v.at(), n, lr, beta1, beta2, eps, step);
      });
}

}  // namespace addon
