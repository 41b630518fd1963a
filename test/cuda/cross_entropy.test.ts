// CUDA fused softmax cross-entropy against the CPU kernel (masked rows, in-place
// backward), up to C = 100,003. Skipped without a GPU.
import { test, after } from "node:test";
import { both, expectClose, freeAll, nat, rng, skipCuda, twinF32, twinFill, twinI32, uniform, TOL_REDUCTION } from "./twin";

after(() => { if (!skipCuda) freeAll(); });

const shapes: Array<[number, number]> = [[1, 1], [7, 33], [33, 7], [5, 1023], [9, 50257], [3, 100003]];

test("cuda crossEntropy forward and backward with masked rows", { skip: skipCuda }, () => {
  const rand = rng(1);
  for (const [R, C] of shapes) {
    const logits = twinF32(uniform(rand, R * C, -8, 8));
    const target = twinI32(Array.from({ length: R }, (_, r) => (r % 3 === 1 ? -1 : Math.floor(rand() * C))));
    const loss = twinFill(R, NaN), lse = twinFill(R, NaN);
    both((x) => nat().crossEntropyForward(x(logits), x(target), x(loss), x(lse), R, C));
    expectClose(loss, `xent loss ${R}x${C}`, TOL_REDUCTION);
    expectClose(lse, `xent lse ${R}x${C}`, TOL_REDUCTION);
    const dloss = twinF32(uniform(rand, R, 0.5, 2));
    const dlogits = twinF32(uniform(rand, R * C));
    both((x) => nat().crossEntropyBackward(x(logits), x(target), x(lse), x(dloss), x(dlogits), R, C, true));
    expectClose(dlogits, `xent dlogits acc ${R}x${C}`, TOL_REDUCTION, 1e-6);
    both((x) => nat().crossEntropyBackward(x(logits), x(target), x(lse), x(dloss), x(logits), R, C, false));
    expectClose(logits, `xent dlogits in place ${R}x${C}`, TOL_REDUCTION, 1e-6);
  }
});
