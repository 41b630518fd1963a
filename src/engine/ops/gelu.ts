// GELU, tanh approximation (GPT-2's gelu_new).
import { native } from "../native";
import type { Tensor } from "../tensor";
import { unaryOp } from "./common";

export function gelu(x: Tensor): Tensor {
  return unaryOp(
    "gelu",
    x,
    (y) => native().geluForward(x.buffer, y.buffer, x.numel),
    (_y, g, dx, accumulate) => native().geluBackward(x.buffer, g.buffer, dx.buffer, x.numel, accumulate),
  );
}
