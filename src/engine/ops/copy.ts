// Concatenation along the time axis of [B*T, C] row blocks (prompt rows then main rows).
import { native } from "../native";
import { Tensor, expect, sameDevice } from "../tensor";
import { record } from "../autograd";
import { check, checkLive } from "./common";

/** a: [B*Ta, C], b: [B*Tb, C] -> [B*(Ta+Tb), C] with each batch entry's rows a then b. */
export function concatTime(a: Tensor, b: Tensor, batch: number): Tensor {
  const op = "concatTime";
  checkLive(op, a, b);
  expect(op, a, "a", "f32", 2);
  expect(op, b, "b", "f32", 2);
  const device = sameDevice(op, a, b);
  const C = a.shape[1];
  check(
    b.shape[1] === C && a.shape[0] % batch === 0 && b.shape[0] % batch === 0,
    op,
    `widths must match and rows divide by batch ${batch}`,
    a,
    b,
  );
  const Ta = a.shape[0] / batch,
    Tb = b.shape[0] / batch,
    T = Ta + Tb;
  const out = Tensor.empty([batch * T, C], { device }); // the two copies fill it
  const nat = native();
  nat.copyStrided(out.buffer, 0, T * C, C, a.buffer, 0, Ta * C, C, batch, Ta, C, false);
  nat.copyStrided(out.buffer, Ta * C, T * C, C, b.buffer, 0, Tb * C, C, batch, Tb, C, false);
  return record(out, {
    op,
    inputs: [a, b],
    backward(ctx, g) {
      const gb = (g as Tensor).buffer;
      const da = ctx.target(a); // a and b may be one tensor: each target right before its copy
      if (da) nat.copyStrided(da.grad.buffer, 0, Ta * C, C, gb, 0, T * C, C, batch, Ta, C, da.accumulate);
      const db = ctx.target(b);
      if (db) nat.copyStrided(db.grad.buffer, 0, Tb * C, C, gb, Ta * C, T * C, C, batch, Tb, C, db.accumulate);
    },
  });
}
