// Inverted dropout (training only) from a counter-based Philox4x32-10 stream: the mask of
// element e is a pure function of (seed, site, step, e) (native/include/philox.h; reference:
// src/nn/philox.ts), so CPU and CUDA draw the same bits, --resume repeats them, and the
// backward regenerates the mask in the kernel instead of storing it.
import { native } from "../native";
import type { Tensor } from "../tensor";
import { unaryOp } from "./common";

/** Where a mask lives in the counter space: the run's seed, the call site, the optimizer step (each a uint32). */
export interface DropoutStream {
  seed: number;
  site: number;
  step: number;
}

/** A dropout rate and its stream. */
export interface DropoutSpec extends DropoutStream {
  p: number;
}

/**
 * The kernels' stream arguments [seed, site, step, threshold, scale]: an element is kept (and
 * scaled by fround(1/(1-p))) when the top 24 bits of its Philox word are >= round(p * 2^24).
 * No dropout (p = 0 or none given) is threshold 0 with scale 1.
 */
export function dropoutArgs(op: string, d: DropoutSpec | null | undefined): [number, number, number, number, number] {
  if (!d || d.p === 0) return [0, 0, 0, 0, 1];
  if (!(d.p >= 0 && d.p < 1)) throw new RangeError(`${op}: dropout p must be in [0, 1), got ${d.p}`);
  for (const k of ["seed", "site", "step"] as const) {
    const v = d[k];
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new RangeError(`${op}: dropout ${k} must be an integer in [0, 2^32), got ${v}`);
  }
  return [d.seed, d.site, d.step, Math.round(d.p * 2 ** 24), Math.fround(1 / (1 - d.p))];
}

/** y = x * mask / (1 - p); p = 0 returns x itself (nothing recorded). */
export function dropout(x: Tensor, p: number, stream: DropoutStream): Tensor {
  const args = dropoutArgs("dropout", { p, ...stream });
  if (p === 0) return x;
  return unaryOp(
    "dropout",
    x,
    (y) => native().dropoutForward(x.buffer, y.buffer, x.numel, ...args),
    (_y, g, dx, accumulate) => native().dropoutBackward(g.buffer, dx.buffer, x.numel, ...args, accumulate),
  );
}
