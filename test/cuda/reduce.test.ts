// CUDA reduce kernels (fill and sum, colSum, rowSum) against the CPU kernels, odd
// shapes, accumulate. Skipped without a GPU.
import { test, after } from "node:test";
import { both, expectClose, freeAll, nat, rng, skipCuda, twinF32, twinFill, uniform, TOL_ELEMENTWISE, TOL_REDUCTION } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

const sizes = [1, 7, 33, 1023, 70001];

test("cuda fill and sum", { skip: skipCuda }, () => {
  const rand = rng(2);
  for (const n of [...sizes, 1 << 20]) {
    const f = twinFill(n, NaN);
    both((x) => nat().fill(x(f), -1.25, n));
    expectClose(f, `fill n=${n}`, 0, 0);
    const v = twinF32(uniform(rand, n, -1, 3)),
      s = twinFill(1, NaN);
    both((x) => nat().sum(x(v), n, x(s)));
    expectClose(s, `sum n=${n}`, TOL_REDUCTION);
  }
});

test("cuda colSum: odd shapes, accumulate", { skip: skipCuda }, () => {
  const rand = rng(3);
  for (const [rows, cols] of [
    [1, 1],
    [7, 33],
    [1023, 7],
    [33, 1023],
    [4097, 65],
  ]) {
    const X = twinF32(uniform(rand, rows * cols));
    const out = twinFill(cols, NaN);
    both((x) => nat().colSum(x(X), rows, cols, x(out), false));
    expectClose(out, `colSum ${rows}x${cols}`, TOL_REDUCTION);
    both((x) => nat().colSum(x(X), rows, cols, x(out), true));
    expectClose(out, `colSum acc ${rows}x${cols}`, TOL_REDUCTION);
  }
});

test("cuda rowSum: forward (plain, accumulate) and broadcast backward, odd shapes", { skip: skipCuda }, () => {
  const rand = rng(13);
  for (const [R, C] of [
    [1, 1],
    [7, 33],
    [1023, 7],
    [33, 1023],
    [3, 70001],
    [5, 0],
  ]) {
    const X = twinF32(uniform(rand, R * C));
    const out = twinFill(R, NaN);
    both((s) => nat().rowSumForward(s(X), R, C, s(out), false));
    expectClose(out, `rowSum ${R}x${C}`, TOL_REDUCTION);
    both((s) => nat().rowSumForward(s(X), R, C, s(out), true));
    expectClose(out, `rowSum acc ${R}x${C}`, TOL_REDUCTION);
    const g = twinF32(uniform(rand, R));
    const dX = twinF32(uniform(rand, R * C));
    both((s) => nat().rowSumBackward(s(g), R, C, s(dX), true));
    expectClose(dX, `rowSum backward acc ${R}x${C}`, TOL_ELEMENTWISE);
    const dX2 = twinFill(R * C, NaN);
    both((s) => nat().rowSumBackward(s(g), R, C, s(dX2), false));
    expectClose(dX2, `rowSum backward ${R}x${C}`, 0, 0);
  }
});
