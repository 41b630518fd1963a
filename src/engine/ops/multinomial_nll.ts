// Multinomial NLL family: the RecLLM head's loss, log-softmax against multi-hot targets.
// Scalar losses return a one-element tensor whose gradient is a host number (see
// autograd.ts), so the backward pass never waits on the device for it.
import { native } from "../native";
import { Tensor, expect, sameDevice } from "../tensor";
import { record } from "../autograd";
import { check, checkLive } from "./common";
import { meanOf } from "./reduce";

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
    op,
    inputs: [logits],
    scalar: true,
    backward(ctx, g) {
      const dl = ctx.slot(logits);
      if (!dl) return;
      const dloss = Tensor.full([R], (g as number) / R, { device });
      native().multinomialNllBackward(logits.buffer, t.buffer, lse.buffer, dloss.buffer, dl.buffer, R, C, true);
      dloss.dispose();
    },
  });
}
