// CUDA multinomial NLL (sparse CSR targets, chunked columns) against the CPU kernel, up to
// C = 100,003; a bad column or row pointer is found by the kernel and thrown at the next
// sync. Skipped without a GPU.
import assert from "node:assert/strict";
import { test, after } from "node:test";
import {
  both,
  download,
  expectClose,
  freeAll,
  nat,
  opt,
  rng,
  skipCuda,
  twinF32,
  twinFill,
  twinI32,
  uniform,
  TOL_REDUCTION,
  type Twin,
} from "./twin";
import type { NativeBuffer } from "../../src/engine/native";

after(() => {
  if (!skipCuda) freeAll();
});

const shapes: Array<[number, number]> = [
  [1, 1],
  [7, 33],
  [33, 7],
  [5, 1023],
  [9, 50257],
  [3, 100003],
];

/** Random CSR targets, about `density` of the columns per row, every row but the last non-empty. */
function targets(rand: () => number, R: number, C: number, density: number, weighted: boolean) {
  const rowPtr = [0],
    cols: number[] = [],
    values: number[] = [];
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++)
      if (rand() < density || (c === 0 && r < R - 1)) {
        cols.push(c);
        values.push(weighted && r === 1 ? 2.5 : 1);
      }
    rowPtr.push(cols.length);
  }
  return { rowPtr: twinI32(rowPtr), cols: twinI32(cols.length ? cols : [0]), values: weighted ? twinF32(values) : null, nnz: cols.length };
}

test("cuda multinomial NLL forward and backward with sparse targets, whole rows and chunks", { skip: skipCuda }, () => {
  const rand = rng(2);
  for (const [R, C] of shapes) {
    for (const weighted of [false, true]) {
      const logits = twinF32(uniform(rand, R * C, -8, 8));
      const t = targets(rand, R, C, 0.02, weighted);
      const v = (x: (t: Twin) => NativeBuffer) => opt(x, t.values);
      const loss = twinFill(R, NaN),
        lse = twinFill(R, NaN),
        stx = twinFill(R, NaN);
      const label = `${R}x${C}${weighted ? " weighted" : ""}`;
      both((x) =>
        nat().multinomialNllForward(x(logits), R, C, 0, C, x(t.rowPtr), x(t.cols), v(x), t.nnz, x(lse), x(stx), x(loss), true, true),
      );
      expectClose(loss, `nll loss ${label}`, TOL_REDUCTION);
      expectClose(lse, `nll lse ${label}`, TOL_REDUCTION);
      const dloss = twinF32(uniform(rand, R, 0.5, 2));
      const dlogits = twinFill(R * C, NaN);
      both((x) =>
        nat().multinomialNllBackward(x(logits), R, C, 0, C, x(t.rowPtr), x(t.cols), v(x), t.nnz, x(lse), x(dloss), x(dlogits), false),
      );
      expectClose(dlogits, `nll dlogits ${label}`, TOL_REDUCTION, 1e-6);
      // a middle chunk [c0, c0 + W): the forward merges into the running lse and stx, the backward
      // (in place, accumulating) sees the whole row's lse
      if (C >= 33) {
        const c0 = Math.floor(C / 3),
          W = Math.floor(C / 3);
        const part = twinF32(uniform(rand, R * W, -8, 8));
        both((x) =>
          nat().multinomialNllForward(x(part), R, W, c0, C, x(t.rowPtr), x(t.cols), v(x), t.nnz, x(lse), x(stx), x(loss), false, true),
        );
        expectClose(lse, `nll merged lse ${label}`, TOL_REDUCTION);
        expectClose(stx, `nll merged stx ${label}`, TOL_REDUCTION, 1e-4);
        expectClose(loss, `nll merged loss ${label}`, TOL_REDUCTION);
        both((x) =>
          nat().multinomialNllBackward(x(part), R, W, c0, C, x(t.rowPtr), x(t.cols), v(x), t.nnz, x(lse), x(dloss), x(part), true),
        );
        expectClose(part, `nll chunk dlogits in place acc ${label}`, TOL_REDUCTION, 1e-6);
      }
    }
  }
});

test("cuda multinomial NLL: a bad column is a RangeError at the next sync, naming op, row and column", { skip: skipCuda }, () => {
  const R = 3,
    C = 5;
  const logits = twinF32(uniform(rng(4), R * C, -3, 3));
  const loss = twinFill(R, 0),
    lse = twinFill(R, 0),
    stx = twinFill(R, 0);
  const rowPtr = twinI32([0, 1, 3, 4]);
  const bad = twinI32([0, 1, 7, 2]);
  // the CPU twin rejects it at the call, before writing anything
  assert.throws(
    () => nat().multinomialNllForward(logits.cpu, R, C, 0, C, rowPtr.cpu, bad.cpu, null, 4, lse.cpu, stx.cpu, loss.cpu, true, true),
    (e: Error) => e instanceof RangeError && /^multinomialNllForward: column 7 of row 1 is outside \[0, 5\)/.test(e.message),
  );
  nat().multinomialNllForward(logits.gpu, R, C, 0, C, rowPtr.gpu, bad.gpu, null, 4, lse.gpu, stx.gpu, loss.gpu, true, true);
  assert.throws(
    () => download(loss.gpu),
    (e: Error) =>
      e instanceof RangeError &&
      /^download: multinomialNllForward: column 7 of row 1 is outside \[0, 5\) \(found on the device/.test(e.message),
  );
  const got = download(loss.gpu);
  assert.ok(Number.isNaN(got[1]), `loss[1] = ${got[1]}, expected NaN`);
  assert.ok(Number.isFinite(got[0]) && Number.isFinite(got[2]), "the good rows are written");
  // order within a row, and a row pointer out of order, from the backward
  const dloss = twinFill(R, 1),
    dx = twinFill(R * C, 0);
  nat().multinomialNllBackward(logits.gpu, R, C, 0, C, rowPtr.gpu, twinI32([0, 3, 3, 2]).gpu, null, 4, lse.gpu, dloss.gpu, dx.gpu, false);
  assert.throws(
    () => nat().synchronize(),
    (e: Error) =>
      e instanceof RangeError && /^synchronize: multinomialNllBackward: column 3 of row 1 is not above the previous column/.test(e.message),
  );
  const g = download(dx.gpu);
  for (let c = 0; c < C; c++) assert.ok(Number.isNaN(g[C + c]), `dlogits[1, ${c}] = ${g[C + c]}, expected NaN`);
  nat().multinomialNllForward(logits.gpu, R, C, 0, C, twinI32([0, 2, 1, 4]).gpu, bad.gpu, null, 4, lse.gpu, stx.gpu, loss.gpu, true, true);
  assert.throws(() => nat().synchronize(), /multinomialNllForward: rowPtr 1 of row 1 is out of order or past nnz 4/);
  nat().synchronize(); // cleared
});
