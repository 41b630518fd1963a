// add, fill, sum, sumRows, copyStrided, sqDiffSum and Adam against float64 references.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose, f32, freeAll, nat, numericGrad, read, rng, uniform, zeros } from "./helpers";

test("add: out = a*alpha + b*beta, with and without b, accumulate and in place", () => {
  const rand = rng(1);
  for (const n of [1, 7, 33, 1023, 70001]) {
    const a = uniform(rand, n), b = uniform(rand, n), o = uniform(rand, n);
    const out = f32(o);
    nat.add(f32(a), 0.5, f32(b), -2, out, n, false);
    assertClose(read(out), Array.from(a, (x, i) => 0.5 * x - 2 * b[i]), `add n=${n}`);
    const acc = f32(o);
    nat.add(f32(a), 3, null, 0, acc, n, true);
    assertClose(read(acc), Array.from(o, (x, i) => x + 3 * a[i]), `add accumulate n=${n}`);
    const inPlace = f32(a);
    nat.add(inPlace, 2, f32(b), 1, inPlace, n, false);
    assertClose(read(inPlace), Array.from(a, (x, i) => 2 * x + b[i]), `add in place n=${n}`);
  }
  freeAll();
});

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

test("sumRows: column sums, overwrite and accumulate", () => {
  const rand = rng(3);
  for (const [rows, cols] of [[1, 1], [7, 33], [1023, 7], [33, 1023]]) {
    const X = uniform(rand, rows * cols), o = uniform(rand, cols);
    const want = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) want[c] += X[r * cols + c];
    const out = f32(o);
    nat.sumRows(f32(X), rows, cols, out, false);
    assertClose(read(out), want, `sumRows ${rows}x${cols}`);
    const acc = f32(o);
    nat.sumRows(f32(X), rows, cols, acc, true);
    assertClose(read(acc), Array.from(want, (v, i) => v + o[i]), `sumRows accumulate ${rows}x${cols}`);
  }
  freeAll();
});

test("copyStrided: batched 2-D block copy and accumulate (a slice of a wider tensor)", () => {
  const rand = rng(4);
  const batch = 3, rows = 7, cols = 5;
  // src: [batch, rows, 9] taking columns 2..7; dst: [batch, 8, 6] rows 1..8, columns 1..6.
  const src = uniform(rand, batch * rows * 9), dst0 = uniform(rand, batch * 8 * 6 + 1);
  for (const accumulate of [false, true]) {
    const dst = f32(dst0);
    nat.copyStrided(dst, 1 * 6 + 1, 8 * 6, 6, f32(src), 2, rows * 9, 9, batch, rows, cols, accumulate);
    const want = Float64Array.from(dst0);
    for (let b = 0; b < batch; b++)
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          const d = 7 + b * 48 + r * 6 + c, s = 2 + b * rows * 9 + r * 9 + c;
          want[d] = (accumulate ? want[d] : 0) + src[s];
        }
    assertClose(read(dst), want, `copyStrided accumulate=${accumulate}`);
  }
  freeAll();
});

test("sqDiffSum: forward against float64, backward against finite differences", () => {
  const rand = rng(5);
  for (const n of [1, 7, 1023]) {
    const a = uniform(rand, n), b = uniform(rand, n), g0 = uniform(rand, n);
    const out = zeros(1);
    nat.sqDiffSumForward(f32(a), f32(b), n, out);
    const f = (x: Float64Array) => x.reduce((s, v, i) => s + (v - b[i]) ** 2, 0);
    assertClose(read(out), [f(Float64Array.from(a))], `sqDiffSum forward n=${n}`);
    const gscale = 0.7;
    const da = f32(g0);
    nat.sqDiffSumBackward(f32(a), f32(b), f32([gscale]), da, n, true);
    const fd = numericGrad(f, a, 1e-4);
    assertClose(read(da), Array.from(fd, (v, i) => g0[i] + gscale * v), `sqDiffSum backward n=${n}`, 1e-4);
  }
  freeAll();
});

test("adam: matches a hand-written float64 step over three steps", () => {
  const rand = rng(6);
  const n = 33, lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const p0 = uniform(rand, n);
  const p = f32(p0), m = zeros(n), v = zeros(n);
  const wp = Float64Array.from(p0), wm = new Float64Array(n), wv = new Float64Array(n);
  for (let step = 1; step <= 3; step++) {
    const g = uniform(rand, n);
    nat.adam(p, f32(g), m, v, n, lr, b1, b2, eps, step);
    for (let i = 0; i < n; i++) {
      wm[i] = b1 * wm[i] + (1 - b1) * g[i];
      wv[i] = b2 * wv[i] + (1 - b2) * g[i] * g[i];
      const mhat = wm[i] / (1 - b1 ** step), vhat = wv[i] / (1 - b2 ** step);
      wp[i] -= (lr * mhat) / (Math.sqrt(vhat) + eps);
    }
  }
  assertClose(read(p), wp, "adam p", 1e-6, 1e-5);
  assertClose(read(m), wm, "adam m", 1e-7, 1e-5);
  assertClose(read(v), wv, "adam v", 1e-9, 1e-4);
  freeAll();
});
