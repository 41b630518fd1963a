// CUDA gather_rows / scatter_add_rows against the CPU kernels: ids outside the table's
// range are left alone; duplicate ids sum in index order, so the GPU result is
// bit-identical to the CPU one and to itself across runs.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { both, download, expectClose, expectIdentical, freeAll, nat, rng, skipCuda, twinF32, twinI32, uniform } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

// ids with many duplicates and some ids of other tables (below idBase or past the end).
function makeIds(rand: () => number, n: number, rows: number, idBase: number, distinct: number): Int32Array {
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    if (u < 0.1)
      ids[i] = Math.floor(rand() * idBase); // another table, below
    else if (u < 0.15)
      ids[i] = idBase + rows + Math.floor(rand() * 50); // another table, above
    else ids[i] = idBase + Math.floor(rand() * Math.min(rows, distinct));
  }
  return ids;
}

test("cuda gather_rows: in-range rows copied, others untouched", { skip: skipCuda }, () => {
  const rand = rng(1);
  for (const [rows, d, n] of [
    [1, 1, 1],
    [7, 33, 40],
    [1023, 7, 1023],
    [50, 768, 333],
  ]) {
    const idBase = 100;
    const table = twinF32(uniform(rand, rows * d));
    const ids = twinI32(makeIds(rand, n, rows, idBase, rows));
    const out = twinF32(uniform(rand, n * d));
    both((x) => nat().gatherRows(x(table), rows, d, x(ids), n, idBase, x(out), false));
    expectClose(out, `gather ${rows}x${d} n=${n}`, 0, 0);
  }
});

test("cuda scatter_add_rows: duplicates sum exactly like the CPU", { skip: skipCuda }, () => {
  const rand = rng(2);
  const cases: Array<[number, number, number, number]> = [
    [1, 1, 1, 1],
    [7, 33, 100, 3],
    [1023, 7, 5000, 1023],
    [60, 1100, 2000, 5],
    [300, 768, 20000, 300],
  ];
  for (const [rows, d, n, distinct] of cases) {
    const idBase = 1000;
    const ids = twinI32(makeIds(rand, n, rows, idBase, distinct));
    const dout = twinF32(uniform(rand, n * d, -1, 1));
    const dtable = twinF32(uniform(rand, rows * d));
    both((x) => nat().scatterAddRows(x(dtable), rows, d, x(ids), n, idBase, x(dout)));
    expectIdentical(dtable, `scatter ${rows}x${d} n=${n}`);
  }
});

test("cuda scatter_add_rows is deterministic across runs", { skip: skipCuda }, () => {
  const rand = rng(3);
  const rows = 40,
    d = 129,
    n = 30000,
    idBase = 0;
  const ids = twinI32(makeIds(rand, n, rows, idBase, 8)); // ~3,000 copies of each id
  const dout = twinF32(uniform(rand, n * d, -100, 100));
  const results: Float32Array[] = [];
  for (let k = 0; k < 3; k++) {
    const dtable = twinF32(new Float32Array(rows * d));
    nat().scatterAddRows(dtable.gpu, rows, d, ids.gpu, n, idBase, dout.gpu);
    results.push(download(dtable.gpu) as Float32Array);
  }
  assert.deepEqual(results[1], results[0], "run 1 differs from run 0");
  assert.deepEqual(results[2], results[0], "run 2 differs from run 0");
});
