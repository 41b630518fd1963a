// Scalar losses. Each returns a one-element tensor whose gradient is a host number
// (see autograd.ts), so the backward pass never waits on the device for it.
import { native } from "../native";
import { Tensor, expect, sameDevice } from "../tensor";
import { record } from "../autograd";
import { check, checkLive, countTargets } from "./common";

function meanOf(perRow: Tensor, count: number): Tensor {
  const out = Tensor.zeros([1], { device: perRow.device });
  native().sum(perRow.buffer, perRow.numel, out.buffer);
  if (count !== 1) native().add(out.buffer, 1 / count, null, 0, out.buffer, 1, false);
  return out;
}

/**
 * Mean softmax cross-entropy over the rows of logits [R, C] whose target is >= 0
 * (targets int32 [R]; -1 masks a row). targetsHost gives the count without a device read.
 */
export function softmaxCrossEntropy(logits: Tensor, targets: Tensor, targetsHost: Int32Array): Tensor {
  const op = "softmaxCrossEntropy";
  checkLive(op, logits, targets);
  expect(op, logits, "logits", "f32", 2);
  expect(op, targets, "targets", "i32");
  const device = sameDevice(op, logits, targets);
  const [R, C] = logits.shape;
  check(targets.numel === R && targetsHost.length === R, op, `targets must have ${R} entries`, logits, targets);
  const count = countTargets(op, targetsHost, C);
  const loss = Tensor.zeros([R], { device });
  const lse = Tensor.zeros([R], { device });
  native().softmaxXentForward(logits.buffer, targets.buffer, loss.buffer, lse.buffer, R, C);
  const out = meanOf(loss, Math.max(count, 1));
  return record(out, {
    op, inputs: [logits], scalar: true,
    backward(ctx, g) {
      const dl = ctx.slot(logits);
      if (!dl || count === 0) return;
      const dloss = Tensor.full([R], (g as number) / count, { device });
      native().softmaxXentBackward(logits.buffer, targets.buffer, lse.buffer, dloss.buffer, dl.buffer, R, C, true);
      dloss.dispose();
    },
  });
}

/** Mean over rows of -sum_c t[r,c] log softmax(logits[r])_c; t [R, C] nonnegative (multi-hot). */
export function multinomialNll(logits: Tensor, t: Tensor): Tensor {
  const op = "multinomialNll";
  checkLive(op, logits, t);
  expect(op, logits, "logits", "f32", 2);
  expect(op, t, "targets", "f32", 2);
  const device = sameDevice(op, logits, t);
  const [R, C] = logits.shape;
  check(t.shape[0] === R && t.shape[1] === C, op, "targets must match logits", logits, t);
  const loss = Tensor.zeros([R], { device });
  const lse = Tensor.zeros([R], { device });
  native().multinomialNllForward(logits.buffer, t.buffer, loss.buffer, lse.buffer, R, C);
  const out = meanOf(loss, R);
  return record(out, {
    op, inputs: [logits], scalar: true,
    backward(ctx, g) {
      const dl = ctx.slot(logits);
      if (!dl) return;
      const dloss = Tensor.full([R], (g as number) / R, { device });
      native().multinomialNllBackward(logits.buffer, t.buffer, lse.buffer, dloss.buffer, dl.buffer, R, C, true);
      dloss.dispose();
    },
  });
}

/** sum (a - b)^2 with b held constant (stop-gradient). */
export function squaredDistance(a: Tensor, b: Tensor): Tensor {
  const op = "squaredDistance";
  checkLive(op, a, b);
  expect(op, a, "a", "f32");
  expect(op, b, "b", "f32");
  const device = sameDevice(op, a, b);
  check(a.numel === b.numel, op, "sizes differ", a, b);
  const out = Tensor.zeros([1], { device });
  native().sqDiffSumForward(a.buffer, b.buffer, a.numel, out.buffer);
  return record(out, {
    op, inputs: [a], scalar: true,
    backward(ctx, g) {
      const da = ctx.slot(a);
      if (!da) return;
      const gt = Tensor.full([1], g as number, { device });
      native().sqDiffSumBackward(a.buffer, b.buffer, gt.buffer, da.buffer, a.numel, true);
      gt.dispose();
    },
  });
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
    op, inputs: terms.map(([t]) => t), scalar: true,
    backward(ctx, g) {
      for (const [t, c] of terms) ctx.addScalar(t, (g as number) * c);
    },
  });
}
