// CUDA squaredDistance against the CPU kernel. Skipped without a GPU.
import { test, after } from "node:test";
import { both, expectClose, freeAll, nat, rng, skipCuda, twinF32, twinFill, uniform, TOL_ELEMENTWISE, TOL_REDUCTION } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

const sizes = [1, 7, 33, 1023, 70001];

test("cuda squaredDistance forward and backward", { skip: skipCuda }, () => {
  const rand = rng(7);
  for (const n of [...sizes, 1 << 20]) {
    const a = twinF32(uniform(rand, n)),
      b = twinF32(uniform(rand, n)),
      out = twinFill(1, NaN);
    both((x) => nat().squaredDistanceForward(x(a), x(b), n, x(out)));
    expectClose(out, `squaredDistance fwd n=${n}`, TOL_REDUCTION);
    const g = twinF32([0.75]),
      da = twinF32(uniform(rand, n));
    both((x) => nat().squaredDistanceBackward(x(a), x(b), x(g), x(da), n, true));
    expectClose(da, `squaredDistance bwd acc n=${n}`, TOL_ELEMENTWISE);
    const da2 = twinFill(n, NaN);
    both((x) => nat().squaredDistanceBackward(x(a), x(b), x(g), x(da2), n, false));
    expectClose(da2, `squaredDistance bwd n=${n}`, TOL_ELEMENTWISE);
  }
});
