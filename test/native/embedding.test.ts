// Embedding gather and deterministic scatter-add: idBase, duplicates, ids of other tables.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose, f32, freeAll, i32, nat, read, rng, uniform } from "./helpers";

test("gatherRows: rows by id - idBase; ids outside the table leave out untouched", () => {
  const rand = rng(60);
  const rows = 33,
    d = 7,
    idBase = 1000;
  const table = uniform(rand, rows * d);
  const ids = [1000, 1032, 1005, 1005, 999, 1033, 1017];
  const out0 = uniform(rand, ids.length * d);
  const out = f32(out0);
  nat.gatherRows(f32(table), rows, d, i32(ids), ids.length, idBase, out, false);
  const want = Float64Array.from(out0);
  ids.forEach((id, i) => {
    const r = id - idBase;
    if (r >= 0 && r < rows) for (let c = 0; c < d; c++) want[i * d + c] = table[r * d + c];
  });
  assertClose(read(out), want, "gatherRows", 0, 0);
  freeAll();
});

test("gatherRows strict: an id outside [idBase, idBase+rows) is a RangeError", () => {
  const table = f32(new Float32Array(4 * 3)),
    out = f32(new Float32Array(2 * 3));
  assert.throws(
    () => nat.gatherRows(table, 4, 3, i32([10, 14]), 2, 10, out, true),
    (e: Error) => e instanceof RangeError && /gatherRows/.test(e.message) && /14/.test(e.message),
  );
  assert.throws(() => nat.gatherRows(table, 4, 3, i32([9, 10]), 2, 10, out, true), RangeError);
  nat.gatherRows(table, 4, 3, i32([10, 13]), 2, 10, out, true);
  freeAll();
});

test("scatterAddRows: duplicates summed in order, other tables' ids skipped, deterministic", () => {
  const rand = rng(61);
  for (const [rows, d, n] of [
    [1, 1, 1],
    [7, 33, 40],
    [33, 1023, 100],
  ]) {
    const idBase = 50;
    const ids = Array.from({ length: n }, () => idBase - 2 + Math.floor(rand() * (rows + 4)));
    ids[0] = idBase;
    if (n > 1) ids[n - 1] = idBase; // a guaranteed duplicate
    const dout = uniform(rand, n * d),
      t0 = uniform(rand, rows * d);
    const want = Float64Array.from(t0);
    ids.forEach((id, i) => {
      const r = id - idBase;
      if (r >= 0 && r < rows) for (let c = 0; c < d; c++) want[r * d + c] += dout[i * d + c];
    });
    const a = f32(t0),
      b = f32(t0);
    nat.scatterAddRows(a, rows, d, i32(ids), n, idBase, f32(dout));
    nat.scatterAddRows(b, rows, d, i32(ids), n, idBase, f32(dout));
    const ra = read(a);
    assertClose(ra, want, `scatterAddRows ${rows}x${d} n=${n}`, 1e-5, 1e-5);
    assert.deepEqual(read(b), ra, "scatterAddRows is bitwise deterministic");
  }
  freeAll();
});
