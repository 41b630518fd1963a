// Reduce kernels (fill and sum, colSum, rowSum) against float64 references; rowSum's
// broadcast backward against finite differences.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose, f32, freeAll, nat, numericGrad, read, rng, uniform, zeros, dotF64 } from "./helpers";

test("fill and sum (sum accumulated in double)", () => {
  const out = zeros(1025);
  nat.fill(out, -Infinity, 1023);
  const got = read(out);
  assert.ok(got.subarray(0, 1023).every((v) => v === -Infinity));
  assert.equal(got[1023], 0, "fill wrote past n");
  // 1 + 2^24 ones: a float32 running sum would stall at 2^24.
  const n = (1 << 24) + 1;
  const ones = f32(new Float32Array(n).fill(1));
  const s = zeros(1);
  nat.sum(ones, n, s);
  assert.equal(read(s)[0], Math.fround(n));
  const rand = rng(2);
  for (const m of [1, 7, 33, 1023]) {
    const x = uniform(rand, m);
    nat.sum(f32(x), m, s);
    assertClose(read(s), [x.reduce((p, v) => p + v, 0)], `sum n=${m}`);
  }
  freeAll();
});

test("colSum: column sums, overwrite and accumulate", () => {
  const rand = rng(3);
  for (const [rows, cols] of [
    [1, 1],
    [7, 33],
    [1023, 7],
    [33, 1023],
  ]) {
    const X = uniform(rand, rows * cols),
      o = uniform(rand, cols);
    const want = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) want[c] += X[r * cols + c];
    const out = f32(o);
    nat.colSum(f32(X), rows, cols, out, false);
    assertClose(read(out), want, `colSum ${rows}x${cols}`);
    const acc = f32(o);
    nat.colSum(f32(X), rows, cols, acc, true);
    assertClose(
      read(acc),
      Array.from(want, (v, i) => v + o[i]),
      `colSum accumulate ${rows}x${cols}`,
    );
  }
  freeAll();
});

test("rowSum: forward against float64 (accumulate), backward broadcast against finite differences", () => {
  const rand = rng(5);
  for (const [R, C] of [
    [1, 1],
    [3, 5],
    [7, 1],
    [300, 257],
    [2, 0],
  ]) {
    const X = uniform(rand, R * C, -2, 2),
      o = uniform(rand, R);
    const out = f32(o);
    nat.rowSumForward(f32(X), R, C, out, true);
    const want = Float64Array.from({ length: R }, (_, r) => {
      let s = o[r];
      for (let c = 0; c < C; c++) s += X[r * C + c];
      return s;
    });
    assertClose(read(out), want, `rowSum ${R}x${C}`, 1e-5, 1e-6);
    const plain = zeros(R);
    nat.rowSumForward(f32(X), R, C, plain, false);
    assertClose(
      read(plain),
      want.map((v, r) => v - o[r]),
      `rowSum plain ${R}x${C}`,
      1e-5,
      1e-5,
    );
    const w = uniform(rand, R),
      prev = uniform(rand, R * C);
    const dX = f32(prev);
    nat.rowSumBackward(f32(w), R, C, dX, true);
    if (R * C > 0 && R * C <= 40) {
      const rowSums = (z: Float64Array) =>
        Float64Array.from({ length: R }, (_, r) => z.subarray(r * C, (r + 1) * C).reduce((s, v) => s + v, 0));
      const fd = numericGrad((z) => dotF64(w, rowSums(z)), X);
      assertClose(
        read(dX),
        Float64Array.from(fd, (g, i) => g + prev[i]),
        `rowSum backward ${R}x${C}`,
        1e-6,
        1e-5,
      );
    }
    const dX2 = zeros(R * C);
    nat.rowSumBackward(f32(w), R, C, dX2, false);
    assertClose(
      read(dX2),
      Float64Array.from({ length: R * C }, (_, i) => w[Math.floor(i / C)]),
      `rowSum backward plain ${R}x${C}`,
      0,
      0,
    );
  }
  freeAll();
});
