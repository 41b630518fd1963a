// CUDA elementwise kernels (add, mul, tanh, exp, log-sigmoid) against the CPU kernels,
// forward and backward, accumulate and in place, on odd sizes. Skipped without a GPU.
import { test, after } from "node:test";
import { both, expectClose, freeAll, nat, rng, skipCuda, twinF32, twinFill, uniform, TOL_ELEMENTWISE } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

const sizes = [1, 7, 33, 1023, 70001];

test("cuda add: with and without b, accumulate, in place", { skip: skipCuda }, () => {
  const rand = rng(1);
  for (const n of sizes) {
    const a = twinF32(uniform(rand, n)),
      b = twinF32(uniform(rand, n));
    const out = twinF32(uniform(rand, n));
    both((x) => nat().add(x(a), 0.5, x(b), -2, x(out), n, true));
    expectClose(out, `add acc n=${n}`, TOL_ELEMENTWISE);
    const out2 = twinFill(n, NaN);
    both((x) => nat().add(x(a), 3, null, 0, x(out2), n, false));
    expectClose(out2, `add no-b n=${n}`, TOL_ELEMENTWISE);
    both((x) => nat().add(x(a), 1, x(b), 1, x(a), n, false)); // out aliases a
    expectClose(a, `add in place n=${n}`, TOL_ELEMENTWISE);
  }
});

test("cuda mul: plain, accumulate, in place", { skip: skipCuda }, () => {
  const rand = rng(11);
  for (const n of sizes) {
    const a = twinF32(uniform(rand, n, -2, 2)),
      b = twinF32(uniform(rand, n, -2, 2));
    const out = twinFill(n, NaN);
    both((x) => nat().mul(x(a), x(b), x(out), n, false));
    expectClose(out, `mul n=${n}`, TOL_ELEMENTWISE);
    both((x) => nat().mul(x(a), x(b), x(out), n, true));
    expectClose(out, `mul acc n=${n}`, TOL_ELEMENTWISE);
    both((x) => nat().mul(x(a), x(b), x(a), n, false));
    expectClose(a, `mul in place n=${n}`, TOL_ELEMENTWISE);
  }
});

test("cuda tanh, exp, logSigmoid: forward and backward (accumulate)", { skip: skipCuda }, () => {
  const rand = rng(12);
  for (const n of sizes) {
    const x = uniform(rand, n, -6, 6);
    x[0] = n > 1 ? 80 : -80; // far tails: exp(-|x|) underflow paths of log-sigmoid
    const xt = twinF32(x),
      dy = twinF32(uniform(rand, n));
    const y = twinFill(n, NaN);
    both((s) => nat().tanhForward(s(xt), s(y), n));
    expectClose(y, `tanh n=${n}`, TOL_ELEMENTWISE);
    const dx = twinF32(uniform(rand, n));
    both((s) => nat().tanhBackward(s(y), s(dy), s(dx), n, true));
    expectClose(dx, `tanh backward n=${n}`, TOL_ELEMENTWISE);

    const small = twinF32(uniform(rand, n, -4, 4));
    const e = twinFill(n, NaN);
    both((s) => nat().expForward(s(small), 0.5, s(e), n));
    expectClose(e, `exp n=${n}`, TOL_ELEMENTWISE);
    const de = twinFill(n, NaN);
    both((s) => nat().expBackward(s(e), s(dy), 0.5, s(de), n, false));
    expectClose(de, `exp backward n=${n}`, TOL_ELEMENTWISE);

    const ls = twinFill(n, NaN);
    both((s) => nat().logSigmoidForward(s(xt), s(ls), n));
    expectClose(ls, `logSigmoid n=${n}`, TOL_ELEMENTWISE);
    const dl = twinF32(uniform(rand, n));
    both((s) => nat().logSigmoidBackward(s(xt), s(dy), s(dl), n, true));
    expectClose(dl, `logSigmoid backward n=${n}`, TOL_ELEMENTWISE);
  }
});
