// Elementwise ops: add (residual), scale, and reshape (a view with a graph edge).
import { native } from "../native";
import { Tensor, expect } from "../tensor";
import { record } from "../autograd";
import { checkLive, checkElementwisePair } from "./common";

/** out = a + b (same shape). */
export function add(a: Tensor, b: Tensor): Tensor {
  const op = "add";
  const device = checkElementwisePair(op, a, b);
  const out = Tensor.zeros(a.shape, { device });
  native().add(a.buffer, 1, b.buffer, 1, out.buffer, a.numel, false);
  return record(out, {
    op, inputs: [a, b],
    backward(ctx, g) {
      for (const t of [a, b]) {
        const s = ctx.slot(t);
        if (s) native().add((g as Tensor).buffer, 1, null, 0, s.buffer, t.numel, true);
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
    op, inputs: [a],
    backward(ctx, g) {
      const d = ctx.slot(a);
      if (d) native().add((g as Tensor).buffer, s, null, 0, d.buffer, a.numel, true);
    },
  });
}

/** The same data under another shape. */
export function reshape(a: Tensor, shape: readonly number[]): Tensor {
  checkLive("reshape", a);
  const out = a.view(shape);
  return record(out, {
    op: "reshape", inputs: [a],
    backward(ctx, g) {
      const d = ctx.slot(a);
      if (d) native().add((g as Tensor).buffer, 1, null, 0, d.buffer, a.numel, true);
    },
  });
}
