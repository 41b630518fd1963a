// Fused softmax cross-entropy: forward against float64, backward against finite
// differences (small C) and the float64 closed form (C = 50,257).
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose, dotF64, f32, freeAll, lse64, i32, nat, numericGrad, read, rng, uniform, zeros } from "./helpers";

function xent64(x: ArrayLike<number>, target: ArrayLike<number>, R: number, C: number): Float64Array {
  return Float64Array.from({ length: R }, (_, r) => (target[r] < 0 ? 0 : lse64(x, r * C, C) - x[r * C + target[r]]));
}

test("crossEntropy: C = 50,257 with a masked row, forward and closed-form backward, in place", () => {
  const rand = rng(70);
  const R = 4,
    C = 50257;
  const x = uniform(rand, R * C, -8, 8);
  x[C + 5] = 30; // a dominant logit: the max-subtraction must keep this finite
  const target = [17, 5, -1, C - 1];
  const dloss = [0.5, 1, 2, -1];
  const xb = f32(x),
    tb = i32(target),
    loss = zeros(R),
    lse = zeros(R);
  nat.crossEntropyForward(xb, tb, loss, lse, R, C);
  assertClose(read(loss), xent64(x, target, R, C), "xent loss", 1e-5, 1e-5);
  const gotLse = read(lse);
  for (const r of [0, 1, 3]) assertClose([gotLse[r]], [lse64(x, r * C, C)], `xent lse row ${r}`, 1e-5, 1e-6);
  // closed form: dloss * (softmax - onehot), masked rows zero; computed in place over the logits.
  const want = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    if (target[r] < 0) continue;
    const l = lse64(x, r * C, C);
    for (let c = 0; c < C; c++) want[r * C + c] = dloss[r] * (Math.exp(x[r * C + c] - l) - (c === target[r] ? 1 : 0));
  }
  nat.crossEntropyBackward(xb, tb, lse, f32(dloss), xb, R, C, false);
  // lse is stored in float32: at lse ~ 30 one ulp is 1.9e-6, which bounds the probability error.
  assertClose(read(xb), want, "xent dlogits in place", 4e-6, 1e-4);
  freeAll();
});

test("crossEntropy backward: finite differences and accumulate (small C)", () => {
  const rand = rng(71);
  const R = 5,
    C = 7;
  const x = uniform(rand, R * C, -3, 3),
    target = [0, 6, -1, 3, 3],
    w = uniform(rand, R);
  const xb = f32(x),
    tb = i32(target),
    loss = zeros(R),
    lse = zeros(R);
  nat.crossEntropyForward(xb, tb, loss, lse, R, C);
  const d0 = uniform(rand, R * C);
  const d = f32(d0);
  nat.crossEntropyBackward(xb, tb, lse, f32(w), d, R, C, true);
  const g = numericGrad((v) => dotF64(w, xent64(v, target, R, C)), x);
  assertClose(
    read(d),
    Array.from(g, (v, i) => v + d0[i]),
    "xent FD",
    1e-5,
    1e-4,
  );
  freeAll();
});

test("crossEntropy: a target >= C is a RangeError naming the op", () => {
  assert.throws(
    () => nat.crossEntropyForward(f32([1, 2, 3]), i32([3]), zeros(1), zeros(1), 1, 3),
    (e: Error) => e instanceof RangeError && /crossEntropyForward/.test(e.message),
  );
  freeAll();
});
