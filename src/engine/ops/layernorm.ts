// LayerNorm over the last dimension; a frozen LayerNorm launches no dgamma/dbeta work.
import { native } from "../native";
import { Tensor, expect, sameDevice } from "../tensor";
import { record } from "../autograd";
import { check, checkLive } from "./common";

/** y = (x - mean) / sqrt(var + eps) * gamma + beta over the last dim of x [R, D]. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const op = "layerNorm";
  checkLive(op, x, gamma, beta);
  expect(op, x, "x", "f32", 2);
  const device = sameDevice(op, x, gamma, beta);
  const [R, D] = x.shape;
  check(gamma.numel === D && beta.numel === D, op, `gamma and beta must have ${D} elements`, x, gamma, beta);
  const y = Tensor.empty([R, D], { device });
  const mean = Tensor.empty([R], { device });
  const rstd = Tensor.empty([R], { device });
  native().layernormForward(x.buffer, gamma.buffer, beta.buffer, y.buffer, mean.buffer, rstd.buffer, R, D, eps);
  return record(y, {
    op,
    inputs: [x, gamma, beta],
    backward(ctx, g) {
      // dx is written in full (or added to); dgamma and dbeta are always accumulated
      const dx = ctx.target(x),
        dg = ctx.slot(gamma),
        db = ctx.slot(beta);
      if (!dx && !dg && !db) return;
      native().layernormBackward(
        (g as Tensor).buffer,
        x.buffer,
        gamma.buffer,
        mean.buffer,
        rstd.buffer,
        dx ? dx.grad.buffer : null,
        dg ? dg.buffer : null,
        db ? db.buffer : null,
        R,
        D,
        dx ? dx.accumulate : true,
      );
    },
  });
}
