// Squared-distance family: the regulariser sum (a - b)^2 with b held constant.
// Scalar losses return a one-element tensor whose gradient is a host number (see
// autograd.ts), so the backward pass never waits on the device for it.
import { native } from "../native";
import { Tensor, expect, sameDevice } from "../tensor";
import { record } from "../autograd";
import { check, checkLive } from "./common";

/** sum (a - b)^2 with b held constant (stop-gradient). */
export function squaredDistance(a: Tensor, b: Tensor): Tensor {
  const op = "squaredDistance";
  checkLive(op, a, b);
  expect(op, a, "a", "f32");
  expect(op, b, "b", "f32");
  const device = sameDevice(op, a, b);
  check(a.numel === b.numel, op, "sizes differ", a, b);
  const out = Tensor.zeros([1], { device });
  native().squaredDistanceForward(a.buffer, b.buffer, a.numel, out.buffer);
  return record(out, {
    op,
    inputs: [a],
    scalar: true,
    backward(ctx, g) {
      const da = ctx.target(a);
      if (!da) return;
      const gt = Tensor.full([1], g as number, { device });
      native().squaredDistanceBackward(a.buffer, b.buffer, gt.buffer, da.grad.buffer, a.numel, da.accumulate);
      gt.dispose();
    },
  });
}
