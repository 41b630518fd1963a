// Pointwise ops of the neural baselines (Multi-VAE, BPR): mul, tanh, exp, logSigmoid,
// rowSum, and mean, a scalar loss over any tensor. Each forward is one native kernel;
// each backward accumulates into ctx.slot(input).
import { native } from "../native";
import { Tensor, expect } from "../tensor";
import { record } from "../autograd";
import { check, checkLive, checkElementwisePair, unaryOp } from "./common";

/** out = a * b elementwise (same shape); both inputs differentiable. Dropout is mul by a 0 / (1/(1-p)) mask. */
export function mul(a: Tensor, b: Tensor): Tensor {
  const op = "mul";
  const device = checkElementwisePair(op, a, b);
  const out = Tensor.zeros(a.shape, { device });
  native().mul(a.buffer, b.buffer, out.buffer, a.numel, false);
  return record(out, {
    op, inputs: [a, b],
    backward(ctx, g) {
      const da = ctx.slot(a), db = ctx.slot(b);
      if (da) native().mul((g as Tensor).buffer, b.buffer, da.buffer, a.numel, true);
      if (db) native().mul((g as Tensor).buffer, a.buffer, db.buffer, b.numel, true);
    },
  });
}

/** y = tanh(x). */
export function tanh(x: Tensor): Tensor {
  return unaryOp("tanh", x,
    (y) => native().tanhForward(x.buffer, y.buffer, x.numel),
    (y, g, dx) => native().tanhBackward(y.buffer, g.buffer, dx.buffer, x.numel, true));
}

/** y = exp(scale * x); scale 0.5 turns a log-variance into a standard deviation. */
export function exp(x: Tensor, scale = 1): Tensor {
  if (!Number.isFinite(scale)) throw new RangeError(`exp: scale must be finite, got ${scale}`);
  return unaryOp("exp", x,
    (y) => native().expForward(x.buffer, scale, y.buffer, x.numel),
    (y, g, dx) => native().expBackward(y.buffer, g.buffer, scale, dx.buffer, x.numel, true));
}

/** y = log sigmoid(x) = -softplus(-x), finite for every finite x (BPR's pairwise term). */
export function logSigmoid(x: Tensor): Tensor {
  return unaryOp("logSigmoid", x,
    (y) => native().logSigmoidForward(x.buffer, y.buffer, x.numel),
    (_y, g, dx) => native().logSigmoidBackward(x.buffer, g.buffer, dx.buffer, x.numel, true));
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
    op, inputs: [x],
    backward(ctx, g) {
      const dx = ctx.slot(x);
      if (dx) native().rowSumBackward((g as Tensor).buffer, R, C, dx.buffer, true);
    },
  });
}

/**
 * The mean of every element of x, as a scalar loss (host-number gradient, like
 * ops/losses.ts), to be combined with combineLosses. Composed of existing kernels.
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
    op, inputs: [x], scalar: true,
    backward(ctx, g) {
      const dx = ctx.slot(x);
      if (!dx) return;
      const each = Tensor.full(x.shape, (g as number) / n, { device: x.device });
      native().add(each.buffer, 1, null, 0, dx.buffer, n, true);
      each.dispose();
    },
  });
}
