// GEMM-backed ops: matmul (2-D, optional transposes) and linear (GPT-2 Conv1D layout:
// weight [in, out], y = x W + b).
import { native } from "../native";
import { Tensor, expect, sameDevice } from "../tensor";
import { record, BackwardContext } from "../autograd";
import { check, checkLive } from "./common";

function gemm(transA: boolean, transB: boolean, M: number, N: number, K: number,
  A: Tensor, B: Tensor, C: Tensor, beta: number, bias: Tensor | null = null): void {
  native().gemm(transA, transB, M, N, K, 1, A.buffer, 0, 0, B.buffer, 0, 0, beta, C.buffer, 0, 0, 1,
    bias ? bias.buffer : null);
}

/** C = op(A) op(B): A [M,K] (or [K,M] with transA), B [K,N] (or [N,K] with transB). */
export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const op = "matmul";
  checkLive(op, a, b);
  expect(op, a, "A", "f32", 2);
  expect(op, b, "B", "f32", 2);
  const device = sameDevice(op, a, b);
  const tA = !!opts.transA, tB = !!opts.transB;
  const [M, K] = tA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [K2, N] = tB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  check(K === K2, op, `inner dimensions differ (${K} vs ${K2}, transA=${tA}, transB=${tB})`, a, b);
  const out = Tensor.zeros([M, N], { device });
  gemm(tA, tB, M, N, K, a, b, out, 0);
  return record(out, {
    op, inputs: [a, b],
    backward(ctx: BackwardContext, g) {
      const dC = g as Tensor;
      const dA = ctx.slot(a), dB = ctx.slot(b);
      if (dA) {
        if (!tA && !tB) gemm(false, true, M, K, N, dC, b, dA, 1);
        else if (!tA && tB) gemm(false, false, M, K, N, dC, b, dA, 1);
        else if (tA && !tB) gemm(false, true, K, M, N, b, dC, dA, 1);
        else gemm(true, true, K, M, N, b, dC, dA, 1);
      }
      if (dB) {
        if (!tA && !tB) gemm(true, false, K, N, M, a, dC, dB, 1);
        else if (!tA && tB) gemm(true, false, N, K, M, dC, a, dB, 1);
        else if (tA && !tB) gemm(false, false, K, N, M, a, dC, dB, 1);
        else gemm(true, true, N, K, M, dC, a, dB, 1);
      }
    },
  });
}

/** y = x W + b with x [M, in], W [in, out] (Conv1D layout), b [out] or null. */
export function linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const op = "linear";
  checkLive(op, x, w, ...(b ? [b] : []));
  expect(op, x, "x", "f32", 2);
  expect(op, w, "weight", "f32", 2);
  const device = sameDevice(op, x, w, ...(b ? [b] : []));
  const [M, K] = x.shape;
  const [K2, N] = w.shape;
  check(K === K2, op, `x has ${K} features but weight expects ${K2}`, x, w);
  if (b) check(b.shape.length === 1 && b.shape[0] === N, op, `bias must be [${N}]`, b);
  const out = Tensor.zeros([M, N], { device });
  gemm(false, false, M, N, K, x, w, out, 0, b);
  return record(out, {
    op, inputs: b ? [x, w, b] : [x, w],
    backward(ctx, g) {
      const dy = g as Tensor;
      const dx = ctx.slot(x), dw = ctx.slot(w), db = b ? ctx.slot(b) : null;
      if (dx) gemm(false, true, M, K, N, dy, w, dx, 1);
      if (dw) gemm(true, false, K, N, M, x, dy, dw, 1);
      if (db) native().colSum(dy.buffer, M, N, db.buffer, true);
    },
  });
}
