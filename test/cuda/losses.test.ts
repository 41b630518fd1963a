// CUDA fused losses against the CPU kernels: softmax cross-entropy (masked rows,
// in-place backward) and multinomial NLL with multi-hot targets, up to C = 50,257.
import { test, after } from "node:test";
import { both, expectClose, freeAll, nat, rng, skipCuda, twinF32, twinFill, twinI32, uniform, TOL_REDUCTION } from "./twin";

after(() => { if (!skipCuda) freeAll(); });

const shapes: Array<[number, number]> = [[1, 1], [7, 33], [33, 7], [5, 1023], [9, 50257], [3, 100003]];

test("cuda softmax_xent forward and backward with masked rows", { skip: skipCuda }, () => {
  const rand = rng(1);
  for (const [R, C] of shapes) {
    const logits = twinF32(uniform(rand, R * C, -8, 8));
    const target = twinI32(Array.from({ length: R }, (_, r) => (r % 3 === 1 ? -1 : Math.floor(rand() * C))));
    const loss = twinFill(R, NaN), lse = twinFill(R, NaN);
    both((x) => nat().softmaxXentForward(x(logits), x(target), x(loss), x(lse), R, C));
    expectClose(loss, `xent loss ${R}x${C}`, TOL_REDUCTION);
    expectClose(lse, `xent lse ${R}x${C}`, TOL_REDUCTION);
    const dloss = twinF32(uniform(rand, R, 0.5, 2));
    const dlogits = twinF32(uniform(rand, R * C));
    both((x) => nat().softmaxXentBackward(x(logits), x(target), x(lse), x(dloss), x(dlogits), R, C, true));
    expectClose(dlogits, `xent dlogits acc ${R}x${C}`, TOL_REDUCTION, 1e-6);
    both((x) => nat().softmaxXentBackward(x(logits), x(target), x(lse), x(dloss), x(logits), R, C, false));
    expectClose(logits, `xent dlogits in place ${R}x${C}`, TOL_REDUCTION, 1e-6);
  }
});

test("cuda multinomial NLL forward and backward with multi-hot targets", { skip: skipCuda }, () => {
  const rand = rng(2);
  for (const [R, C] of shapes) {
    const logits = twinF32(uniform(rand, R * C, -8, 8));
    const t = new Float32Array(R * C);
    for (let i = 0; i < t.length; i++) t[i] = rand() < 0.02 ? 1 : 0;
    t[0] = 1; // every case has at least one positive
    if (R > 1) t[C] = 2.5; // non-binary weight
    const targets = twinF32(t);
    const loss = twinFill(R, NaN), lse = twinFill(R, NaN);
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
