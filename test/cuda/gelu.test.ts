// CUDA GELU against the CPU kernel, forward and backward. Skipped without a GPU.
import { test, after } from "node:test";
import { both, expectClose, freeAll, nat, rng, skipCuda, twinF32, twinFill, uniform, TOL_ELEMENTWISE } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

const sizes = [1, 7, 33, 1023, 70001];

test("cuda gelu forward and backward", { skip: skipCuda }, () => {
  const rand = rng(5);
  for (const n of sizes) {
    const xs = twinF32(uniform(rand, n, -6, 6)),
      y = twinFill(n, NaN);
    both((x) => nat().geluForward(x(xs), x(y), n));
    expectClose(y, `gelu fwd n=${n}`, TOL_ELEMENTWISE);
    const dy = twinF32(uniform(rand, n)),
      dx = twinF32(uniform(rand, n));
    both((x) => nat().geluBackward(x(xs), x(dy), x(dx), n, true));
    expectClose(dx, `gelu bwd acc n=${n}`, TOL_ELEMENTWISE);
    const dx2 = twinFill(n, NaN);
    both((x) => nat().geluBackward(x(xs), x(dy), x(dx2), n, false));
    expectClose(dx2, `gelu bwd n=${n}`, TOL_ELEMENTWISE);
  }
});
