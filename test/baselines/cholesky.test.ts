import { test } from "node:test";
import assert from "node:assert/strict";
import { choleskyInPlace, invertSpd } from "../../src/baselines";
import { gaussJordanInverse, lcg, randomSpd } from "./naive";

test("choleskyInPlace: hand-solved 2x2 and 3x3", () => {
  const a = Float64Array.from([4, 2, 2, 3]);
  choleskyInPlace(a, 2);
  assert.deepEqual(Array.from(a), [2, 0, 1, Math.SQRT2]);
  // [[4,12,-16],[12,37,-43],[-16,-43,98]] = L L^T with L = [[2,0,0],[6,1,0],[-8,5,3]].
  const b = Float64Array.from([4, 12, -16, 12, 37, -43, -16, -43, 98]);
  choleskyInPlace(b, 3);
  assert.deepEqual(Array.from(b), [2, 0, 0, 6, 1, 0, -8, 5, 3]);
});

test("invertSpd: hand-solved 2x2", () => {
  const p = invertSpd(Float64Array.from([4, 2, 2, 3]), 2);
  [3 / 8, -2 / 8, -2 / 8, 4 / 8].forEach((x, i) => {
    assert.ok(Math.abs(p[i] - x) < 1e-15, `${i}: ${p[i]}`);
  });
});

test("invertSpd: matches Gauss-Jordan on random SPD matrices across block sizes", () => {
  const rnd = lcg(11);
  for (const n of [1, 3, 4, 5, 15, 16, 17, 33, 50]) {
    const m = randomSpd(n, rnd);
    const ref = gaussJordanInverse(m);
    const a = Float64Array.from(m.flat());
    const p = invertSpd(a, n);
    assert.deepEqual(Array.from(a), m.flat(), "input untouched without overwrite");
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        assert.ok(Math.abs(p[i * n + j] - ref[i][j]) < 1e-12, `n=${n} (${i},${j}): ${p[i * n + j]} vs ${ref[i][j]}`);
      }
    }
  }
});

test("invertSpd/choleskyInPlace: not positive definite and bad shapes are clear errors", () => {
  assert.throws(() => invertSpd(Float64Array.from([1, 2, 2, 1]), 2), /not positive definite \(pivot 1 of 2 is -3\)/);
  assert.throws(() => choleskyInPlace(new Float64Array(9), 3), /not positive definite \(pivot 0 of 3 is 0\)/);
  assert.throws(() => invertSpd(new Float64Array(5), 2), /invertSpd: expected a Float64Array of length n\*n = 4, got length 5/);
  assert.throws(() => choleskyInPlace(new Float64Array(0), 0), /n must be a positive integer, got 0/);
});
