// Reduce family: rowSum (x [R, C] -> [R]), mean (a scalar loss over any tensor) and
// meanOf, the per-row-loss mean behind the scalar losses. Sums run in double natively.
import { native } from "../native";
import { Tensor, expect } from "../tensor";
import { record } from "../autograd";
import { check, checkLive } from "./common";

/** The mean of a per-row loss over count rows, as a [1] tensor (no tape record). */
export function meanOf(perRow: Tensor, count: number): Tensor {
  const out = Tensor.zeros([1], { device: perRow.device });
  native().sum(perRow.buffer, perRow.numel, out.buffer);
  if (count !== 1) native().add(out.buffer, 1 / count, null, 0, out.buffer, 1, false);
  return out;
}

/** out[r] = sum_c x[r, c]: x [R, C] -> [R] (a batch of dot products is rowSum(mul(a, b))). */
export function rowSum(x: Tensor): Tensor {
  const op = "rowSum";
  checkLive(op, x);
  expect(op, x, "x", "f32", 2);
  const [R, C] = x.shape;
  const out = Tensor.zeros([R], { device: x.device });
  native().rowSumForward(x.buffer, R, C, out.buffer, false);
  return record(out, {
    op,
    inputs: [x],
    backward(ctx, g) {
      const dx = ctx.target(x);
      if (dx) native().rowSumBackward((g as Tensor).buffer, R, C, dx.grad.buffer, dx.accumulate);
    },
  });
}

/**
 * The mean of every element of x, as a scalar loss (host-number gradient, like
 * the losses), to be combined with combineLosses. Composed of existing kernels.
 */
export function mean(x: Tensor): Tensor {
  const op = "mean";
  checkLive(op, x);
  expect(op, x, "x", "f32");
  check(x.numel > 0, op, "x is empty", x);
  const n = x.numel;
  const out = Tensor.zeros([1], { device: x.device });
  native().sum(x.buffer, n, out.buffer);
  native().add(out.buffer, 1 / n, null, 0, out.buffer, 1, false);
  return record(out, {
    op,
    inputs: [x],
    scalar: true,
    backward(ctx, g) {
      const dx = ctx.target(x);
      if (!dx) return;
      const each = Tensor.full(x.shape, (g as number) / n, { device: x.device });
      native().add(each.buffer, 1, null, 0, dx.grad.buffer, n, dx.accumulate);
      each.dispose();
    },
  });
}
