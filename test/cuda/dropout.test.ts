// CUDA dropout kernels against the CPU twins: the same Philox words and the same masks, bit
// for bit (the counters fix them), forward and backward. Skipped without a GPU.
import { test, after } from "node:test";
import { both, expectIdentical, freeAll, nat, rng, skipCuda, twinF32, twinFill, twinI32, uniform } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

test("cuda philox_blocks: the CPU's words, with the 64-bit counter carry", { skip: skipCuda }, () => {
  for (const [n, c0, c1] of [
    [1, 0, 0],
    [37, 0xfffffff0, 5],
    [1025, 123456789, 0xffffffff],
  ]) {
    const out = twinI32(new Int32Array(4 * n));
    both((x) => nat().philoxBlocks(x(out), n, c0, c1, 0xdeadbeef, 17, 0xffffffff, 0x6c6c6d34));
    expectIdentical(out, `philox_blocks n=${n}`);
  }
});

test("cuda dropout forward and backward: the CPU's bits", { skip: skipCuda }, () => {
  const rand = rng(6);
  for (const n of [1, 7, 4099, 70001]) {
    for (const [p, seed, site, step] of [
      [0.1, 3, 2, 5],
      [0.5, 0xffffffff, 0xffffffff, 0xffffffff],
    ]) {
      const a: [number, number, number, number, number] = [seed, site, step, Math.round(p * 2 ** 24), Math.fround(1 / (1 - p))];
      const xs = twinF32(uniform(rand, n, -3, 3)),
        y = twinFill(n, NaN);
      both((x) => nat().dropoutForward(x(xs), x(y), n, ...a));
      expectIdentical(y, `dropout fwd n=${n} p=${p}`);
      const dy = twinF32(uniform(rand, n)),
        dx = twinF32(uniform(rand, n));
      both((x) => nat().dropoutBackward(x(dy), x(dx), n, ...a, true));
      expectIdentical(dx, `dropout bwd acc n=${n} p=${p}`);
      const dx2 = twinFill(n, NaN);
      both((x) => nat().dropoutBackward(x(dy), x(dx2), n, ...a, false));
      expectIdentical(dx2, `dropout bwd n=${n} p=${p}`);
    }
  }
});
