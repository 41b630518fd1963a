// GELU, tanh approximation (GPT-2's gelu_new).
import { native } from "../native";
import { Tensor, expect } from "../tensor";
import { record } from "../autograd";
import { checkLive } from "./common";

export function gelu(x: Tensor): Tensor {
  const op = "gelu";
  checkLive(op, x);
  expect(op, x, "x", "f32");
  const y = Tensor.zeros(x.shape, { device: x.device });
  native().geluForward(x.buffer, y.buffer, x.numel);
  return record(y, {
    op, inputs: [x],
    backward(ctx, g) {
      const dx = ctx.slot(x);
      if (dx) native().geluBackward(x.buffer, (g as Tensor).buffer, dx.buffer, x.numel, true);
    },
  });
}
