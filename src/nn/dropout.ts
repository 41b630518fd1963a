// Inverted dropout (training only): y = x * mask, mask = 1/(1-p) or 0 per element from the
// counter-based Philox stream (src/nn/philox.ts), so the mask is a pure function of
// (seed, site, step, index): identical on every device and after --resume.
// The mask is generated on the host and multiplied in with the elementwise kernel (so this is
// a composed op, not a kernel family yet); the backward is the same product (dx = dy * mask).
import { Tensor, mul } from "../engine";
import { dropoutMask, DropoutStream } from "./philox";

export function dropout(x: Tensor, p: number, stream: DropoutStream): Tensor {
  if (p === 0) return x;
  const mask = Tensor.from(dropoutMask(x.numel, p, stream), x.shape, { device: x.device });
  return mul(x, mask);
}
