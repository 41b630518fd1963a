// Elementwise family: add (residual), scale, reshape (a view with a graph edge), mul,
// tanh, exp, logSigmoid, and combineLosses (a weighted sum of scalar losses). Each
// forward is one native kernel; each backward writes or adds its input's whole gradient
// (ctx.target(input)).
import { native } from "../native";
import { Tensor, expect, sameDevice } from "../tensor";
import { record } from "../autograd";
import { check, checkLive, checkElementwisePair, unaryOp } from "./common";

/** out = a + b (same shape). */
export function add(a: Tensor, b: Tensor): Tensor {
  const op = "add";
  const device = checkElementwisePair(op, a, b);
  const out = Tensor.empty(a.shape, { device });
  native().add(a.buffer, 1, b.buffer, 1, out.buffer, a.numel, false);
  return record(out, {
    op,
    inputs: [a, b],
    backward(ctx, g) {
      for (const t of [a, b]) {
        const s = ctx.target(t);
        if (s) native().add((g as Tensor).buffer, 1, null, 0, s.grad.buffer, t.numel, s.accumulate);
      }
    },
  });
}

/** out = a * s for a host constant s. */
export function scale(a: Tensor, s: number): Tensor {
  const op = "scale";
  checkLive(op, a);
  expect(op, a, "a", "f32");
  const out = Tensor.zeros(a.shape, { device: a.device });
  native().add(a.buffer, s, null, 0, out.buffer, a.numel, false);
  return record(out, {
    op,
    inputs: [a],
    backward(ctx, g) {
      const d = ctx.target(a);
      if (d) native().add((g as Tensor).buffer, s, null, 0, d.grad.buffer, a.numel, d.accumulate);
    },
  });
}

/** The same data under another shape. */
export function reshape(a: Tensor, shape: readonly number[]): Tensor {
  checkLive("reshape", a);
  const out = a.view(shape);
  return record(out, {
    op: "reshape",
    inputs: [a],
    backward(ctx, g) {
      const d = ctx.target(a);
      if (d) native().add((g as Tensor).buffer, 1, null, 0, d.grad.buffer, a.numel, d.accumulate);
    },
  });
}

/** out = a * b elementwise (same shape); both inputs differentiable. Dropout is mul by a 0 / (1/(1-p)) mask. */
export function mul(a: Tensor, b: Tensor): Tensor {
  const op = "mul";
  const device = checkElementwisePair(op, a, b);
  const out = Tensor.empty(a.shape, { device });
  native().mul(a.buffer, b.buffer, out.buffer, a.numel, false);
  return record(out, {
    op,
    inputs: [a, b],
    backward(ctx, g) {
      const da = ctx.target(a); // a and b may be one tensor: each target right before its kernel
      if (da) native().mul((g as Tensor).buffer, b.buffer, da.grad.buffer, a.numel, da.accumulate);
      const db = ctx.target(b);
      if (db) native().mul((g as Tensor).buffer, a.buffer, db.grad.buffer, b.numel, db.accumulate);
    },
  });
}

/** y = tanh(x). */
export function tanh(x: Tensor): Tensor {
  return unaryOp(
    "tanh",
    x,
    (y) => native().tanhForward(x.buffer, y.buffer, x.numel),
    (y, g, dx, accumulate) => native().tanhBackward(y.buffer, g.buffer, dx.buffer, x.numel, accumulate),
  );
}

/** y = exp(scale * x); scale 0.5 turns a log-variance into a standard deviation. */
export function exp(x: Tensor, scale = 1): Tensor {
  if (!Number.isFinite(scale)) throw new RangeError(`exp: scale must be finite, got ${scale}`);
  return unaryOp(
    "exp",
    x,
    (y) => native().expForward(x.buffer, scale, y.buffer, x.numel),
    (y, g, dx, accumulate) => native().expBackward(y.buffer, g.buffer, scale, dx.buffer, x.numel, accumulate),
  );
}

/** y = log sigmoid(x) = -softplus(-x), finite for every finite x (BPR's pairwise term). */
export function logSigmoid(x: Tensor): Tensor {
  return unaryOp(
    "logSigmoid",
    x,
    (y) => native().logSigmoidForward(x.buffer, y.buffer, x.numel),
    (_y, g, dx, accumulate) => native().logSigmoidBackward(x.buffer, g.buffer, dx.buffer, x.numel, accumulate),
  );
}

/** sum_k coef_k * loss_k over scalar losses. */
export function combineLosses(terms: readonly [Tensor, number][]): Tensor {
  const op = "combineLosses";
  check(terms.length > 0, op, "no terms");
  const device = sameDevice(op, ...terms.map(([t]) => t));
  const out = Tensor.zeros([1], { device });
  for (const [t, c] of terms) {
    check(t.numel === 1, op, "every term must be a scalar", t);
    native().add(t.buffer, c, null, 0, out.buffer, 1, true);
  }
  return record(out, {
    op,
    inputs: terms.map(([t]) => t),
    scalar: true,
    backward(ctx, g) {
      for (const [t, c] of terms) ctx.addScalar(t, (g as number) * c);
    },
  });
}
