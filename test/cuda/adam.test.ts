// CUDA Adam against the CPU kernel over several steps. Skipped without a GPU.
import { test, after } from "node:test";
import { both, expectClose, freeAll, nat, rng, skipCuda, twinF32, twinFill, uniform, TOL_ELEMENTWISE } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

const sizes = [1, 7, 33, 1023, 70001];

test("cuda adam: several steps", { skip: skipCuda }, () => {
  const rand = rng(6);
  for (const n of sizes) {
    const p = twinF32(uniform(rand, n)),
      m = twinFill(n, 0),
      v = twinFill(n, 0);
    for (let step = 1; step <= 3; step++) {
      const g = twinF32(uniform(rand, n));
      both((x) => nat().adam(x(p), x(g), x(m), x(v), n, 1e-3, 0.9, 0.999, 1e-8, step));
    }
    expectClose(p, `adam p n=${n}`, TOL_ELEMENTWISE);
    expectClose(m, `adam m n=${n}`, TOL_ELEMENTWISE);
    expectClose(v, `adam v n=${n}`, TOL_ELEMENTWISE);
  }
});
