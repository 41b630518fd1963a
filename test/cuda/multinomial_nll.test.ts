// CUDA fused multinomial NLL against the CPU kernel with multi-hot targets, up to
// C = 100,003. Skipped without a GPU.
import { test, after } from "node:test";
import { both, expectClose, freeAll, nat, rng, skipCuda, twinF32, twinFill, uniform, TOL_REDUCTION } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

const shapes: Array<[number, number]> = [
  [1, 1],
  [7, 33],
  [33, 7],
  [5, 1023],
  [9, 50257],
  [3, 100003],
];

test("cuda multinomial NLL forward and backward with multi-hot targets", { skip: skipCuda }, () => {
  const rand = rng(2);
  for (const [R, C] of shapes) {
    const logits = twinF32(uniform(rand, R * C, -8, 8));
    const t = new Float32Array(R * C);
    for (let i = 0; i < t.length; i++) t[i] = rand() < 0.02 ? 1 : 0;
    t[0] = 1; // every case has at least one positive
    if (R > 1) t[C] = 2.5; // non-binary weight
    const targets = twinF32(t);
    const loss = twinFill(R, NaN),
      lse = twinFill(R, NaN);
    both((x) => nat().multinomialNllForward(x(logits), x(targets), x(loss), x(lse), R, C));
    expectClose(loss, `nll loss ${R}x${C}`, TOL_REDUCTION);
    expectClose(lse, `nll lse ${R}x${C}`, TOL_REDUCTION);
    const dloss = twinF32(uniform(rand, R, 0.5, 2));
    const dlogits = twinFill(R * C, NaN);
    both((x) => nat().multinomialNllBackward(x(logits), x(targets), x(lse), x(dloss), x(dlogits), R, C, false));
    expectClose(dlogits, `nll dlogits ${R}x${C}`, TOL_REDUCTION, 1e-6);
    both((x) => nat().multinomialNllBackward(x(logits), x(targets), x(lse), x(dloss), x(logits), R, C, true));
    expectClose(logits, `nll dlogits in place acc ${R}x${C}`, TOL_REDUCTION, 1e-6);
  }
});
