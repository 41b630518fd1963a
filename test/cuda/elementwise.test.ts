// CUDA elementwise and reduction kernels against the CPU kernels: add, fill, sum,
// sum_rows, copy_strided, gelu, adam, sq_diff, on sizes 1, 7, 33, 1023 and larger.
import { test, after } from "node:test";
import { both, expectClose, freeAll, nat, rng, skipCuda, twinF32, twinFill, uniform, TOL_ELEMENTWISE, TOL_REDUCTION } from "./twin";

after(() => { if (!skipCuda) freeAll(); });

const sizes = [1, 7, 33, 1023, 70001];

test("cuda add: with and without b, accumulate, in place", { skip: skipCuda }, () => {
  const rand = rng(1);
  for (const n of sizes) {
    const a = twinF32(uniform(rand, n)), b = twinF32(uniform(rand, n));
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

test("cuda fill and sum", { skip: skipCuda }, () => {
  const rand = rng(2);
  for (const n of [...sizes, 1 << 20]) {
    const f = twinFill(n, NaN);
    both((x) => nat().fill(x(f), -1.25, n));
    expectClose(f, `fill n=${n}`, 0, 0);
    const v = twinF32(uniform(rand, n, -1, 3)), s = twinFill(1, NaN);
    both((x) => nat().sum(x(v), n, x(s)));
    expectClose(s, `sum n=${n}`, TOL_REDUCTION);
  }
});

test("cuda sum_rows: odd shapes, accumulate", { skip: skipCuda }, () => {
  const rand = rng(3);
  for (const [rows, cols] of [[1, 1], [7, 33], [1023, 7], [33, 1023], [4097, 65]]) {
    const X = twinF32(uniform(rand, rows * cols));
    const out = twinFill(cols, NaN);
    both((x) => nat().sumRows(x(X), rows, cols, x(out), false));
    expectClose(out, `sum_rows ${rows}x${cols}`, TOL_REDUCTION);
    both((x) => nat().sumRows(x(X), rows, cols, x(out), true));
    expectClose(out, `sum_rows acc ${rows}x${cols}`, TOL_REDUCTION);
  }
});

test("cuda copy_strided: batched slices with offsets, copy and accumulate", { skip: skipCuda }, () => {
  const rand = rng(4);
  const batch = 3, rows = 7, cols = 33;
  const srcRow = 40, srcBatch = rows * srcRow + 5, dstRow = 70, dstBatch = rows * dstRow + 1;
  const src = twinF32(uniform(rand, batch * srcBatch + 10));
  const dst = twinF32(uniform(rand, batch * dstBatch + 20));
  both((x) => nat().copyStrided(x(dst), 4, dstBatch, dstRow, x(src), 2, srcBatch, srcRow, batch, rows, cols, false));
  expectClose(dst, "copy_strided", 0, 0);
  both((x) => nat().copyStrided(x(dst), 9, dstBatch, dstRow, x(src), 1, srcBatch, srcRow, batch, rows, cols, true));
  expectClose(dst, "copy_strided accumulate", TOL_ELEMENTWISE);
});

test("cuda gelu forward and backward", { skip: skipCuda }, () => {
  const rand = rng(5);
  for (const n of sizes) {
    const xs = twinF32(uniform(rand, n, -6, 6)), y = twinFill(n, NaN);
    both((x) => nat().geluForward(x(xs), x(y), n));
    expectClose(y, `gelu fwd n=${n}`, TOL_ELEMENTWISE);
    const dy = twinF32(uniform(rand, n)), dx = twinF32(uniform(rand, n));
    both((x) => nat().geluBackward(x(xs), x(dy), x(dx), n, true));
    expectClose(dx, `gelu bwd acc n=${n}`, TOL_ELEMENTWISE);
    const dx2 = twinFill(n, NaN);
    both((x) => nat().geluBackward(x(xs), x(dy), x(dx2), n, false));
    expectClose(dx2, `gelu bwd n=${n}`, TOL_ELEMENTWISE);
  }
});

test("cuda adam: several steps", { skip: skipCuda }, () => {
  const rand = rng(6);
  for (const n of sizes) {
    const p = twinF32(uniform(rand, n)), m = twinFill(n, 0), v = twinFill(n, 0);
    for (let step = 1; step <= 3; step++) {
      const g = twinF32(uniform(rand, n));
      both((x) => nat().adam(x(p), x(g), x(m), x(v), n, 1e-3, 0.9, 0.999, 1e-8, step));
    }
    expectClose(p, `adam p n=${n}`, TOL_ELEMENTWISE);
    expectClose(m, `adam m n=${n}`, TOL_ELEMENTWISE);
    expectClose(v, `adam v n=${n}`, TOL_ELEMENTWISE);
  }
});

test("cuda sq_diff_sum forward and backward", { skip: skipCuda }, () => {
  const rand = rng(7);
  for (const n of [...sizes, 1 << 20]) {
    const a = twinF32(uniform(rand, n)), b = twinF32(uniform(rand, n)), out = twinFill(1, NaN);
    both((x) => nat().sqDiffSumForward(x(a), x(b), n, x(out)));
    expectClose(out, `sq_diff fwd n=${n}`, TOL_REDUCTION);
    const g = twinF32([0.75]), da = twinF32(uniform(rand, n));
    both((x) => nat().sqDiffSumBackward(x(a), x(b), x(g), x(da), n, true));
    expectClose(da, `sq_diff bwd acc n=${n}`, TOL_ELEMENTWISE);
    const da2 = twinFill(n, NaN);
    both((x) => nat().sqDiffSumBackward(x(a), x(b), x(g), x(da2), n, false));
    expectClose(da2, `sq_diff bwd n=${n}`, TOL_ELEMENTWISE);
  }
});
