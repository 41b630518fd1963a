// Fused multinomial NLL against sparse (CSR) targets: forward against float64, backward
// against finite differences (small C) and the float64 closed form (C = 20,011), chunks
// against the whole row, and the kernels' own checks of the targets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose, dotF64, f32, freeAll, i32, lse64, nat, numericGrad, read, rng, uniform, zeros } from "./helpers";

interface Csr {
  rowPtr: number[];
  cols: number[];
  values: number[] | null;
}

/** CSR of a dense [R, C] target matrix (its nonzeros, in column order). */
function csrOf(t: ArrayLike<number>, R: number, C: number, weighted: boolean): Csr {
  const out: Csr = { rowPtr: [0], cols: [], values: weighted ? [] : null };
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++)
      if (t[r * C + c] !== 0) {
        out.cols.push(c);
        out.values?.push(t[r * C + c]);
      }
    out.rowPtr.push(out.cols.length);
  }
  return out;
}

function multinomial64(x: ArrayLike<number>, t: ArrayLike<number>, R: number, C: number): Float64Array {
  return Float64Array.from({ length: R }, (_, r) => {
    const l = lse64(x, r * C, C);
    let s = 0;
    for (let c = 0; c < C; c++) if (t[r * C + c] !== 0) s -= t[r * C + c] * (x[r * C + c] - l);
    return s;
  });
}

/** The CSR arrays as native buffers (a one-element placeholder where a row set is empty). */
function buffers(s: Csr) {
  return {
    rowPtr: i32(s.rowPtr),
    cols: i32(s.cols.length ? s.cols : [0]),
    values: s.values ? f32(s.values.length ? s.values : [0]) : null,
    nnz: s.cols.length,
  };
}

test("multinomialNll: count targets, forward and FD backward; a row without targets has zero loss and gradient", () => {
  const rand = rng(72);
  const R = 4,
    C = 9;
  const x = uniform(rand, R * C, -3, 3);
  const t = new Float32Array(R * C);
  for (let i = 0; i < t.length; i++) t[i] = rand() < 0.3 ? 1 : 0;
  t[2 * C + 4] = 2.5; // a non-binary weight
  for (let c = 0; c < C; c++) t[3 * C + c] = 0;
  const s = buffers(csrOf(t, R, C, true));
  const w = uniform(rand, R);
  const xb = f32(x),
    loss = zeros(R),
    lse = zeros(R),
    stx = zeros(R);
  nat.multinomialNllForward(xb, R, C, 0, C, s.rowPtr, s.cols, s.values, s.nnz, lse, stx, loss, true, true);
  assertClose(read(loss), multinomial64(x, t, R, C), "multinomial loss", 1e-5, 1e-5);
  assert.equal(read(loss)[3], 0, "an empty row's loss");
  const d0 = uniform(rand, R * C);
  const d = f32(d0);
  nat.multinomialNllBackward(xb, R, C, 0, C, s.rowPtr, s.cols, s.values, s.nnz, lse, f32(w), d, true);
  const g = numericGrad((v) => dotF64(w, multinomial64(v, t, R, C)), x);
  assertClose(
    read(d),
    Array.from(g, (v, i) => v + d0[i]),
    "multinomial FD",
    1e-5,
    1e-4,
  );
  freeAll();
});

test("multinomialNll: 20 users x 20,011 items multi-hot, closed-form backward in place; chunks equal the whole row", () => {
  const rand = rng(73);
  const R = 20,
    C = 20011;
  const x = uniform(rand, R * C, -4, 4);
  const t = new Float32Array(R * C);
  for (let i = 0; i < t.length; i++) t[i] = rand() < 0.002 ? 1 : 0;
  const s = buffers(csrOf(t, R, C, false));
  const dloss = uniform(rand, R);
  const xb = f32(x),
    loss = zeros(R),
    lse = zeros(R),
    stx = zeros(R);
  nat.multinomialNllForward(xb, R, C, 0, C, s.rowPtr, s.cols, null, s.nnz, lse, stx, loss, true, true);
  assertClose(read(loss), multinomial64(x, t, R, C), "multinomial loss large", 1e-4, 1e-5);
  const want = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    const l = lse64(x, r * C, C);
    let st = 0;
    for (let c = 0; c < C; c++) st += t[r * C + c];
    for (let c = 0; c < C; c++) want[r * C + c] = dloss[r] * (Math.exp(x[r * C + c] - l) * st - t[r * C + c]);
  }
  // the chunked forward: columns [c0, c0 + W) copied out, lse and stx merged across chunks
  const W = 4096;
  const cl = zeros(R),
    cs = zeros(R),
    closs = zeros(R);
  const whole = read(lse);
  const dl = f32(dloss);
  const chunkGrad = new Float32Array(R * C);
  for (let c0 = 0; c0 < C; c0 += W) {
    const w = Math.min(W, C - c0);
    const part = new Float32Array(R * w);
    for (let r = 0; r < R; r++) part.set(x.subarray(r * C + c0, r * C + c0 + w), r * w);
    const pb = f32(part);
    nat.multinomialNllForward(pb, R, w, c0, C, s.rowPtr, s.cols, null, s.nnz, cl, cs, closs, c0 === 0, c0 + w === C);
    nat.multinomialNllBackward(pb, R, w, c0, C, s.rowPtr, s.cols, null, s.nnz, lse, dl, pb, false);
    const g = read(pb);
    for (let r = 0; r < R; r++) chunkGrad.set(g.subarray(r * w, (r + 1) * w), r * C + c0);
  }
  assertClose(read(cl), whole, "chunked lse", 1e-5, 1e-6);
  assertClose(read(closs), read(loss), "chunked loss", 1e-4, 1e-5);
  nat.multinomialNllBackward(xb, R, C, 0, C, s.rowPtr, s.cols, null, s.nnz, lse, dl, xb, false);
  const full = read(xb);
  assertClose(full, want, "multinomial dlogits in place", 1e-7, 1e-4);
  assert.deepEqual(chunkGrad, full, "a chunk's gradient (the whole row's lse) equals the whole row's, bit for bit");
  freeAll();
});

test("multinomialNll kernels reject bad CSR targets, naming the op, row and column", () => {
  const R = 2,
    C = 5;
  const x = f32(new Float32Array(R * C));
  const out = () => [zeros(R), zeros(R), zeros(R)] as const;
  const fwd = (rowPtr: number[], cols: number[], c0 = 0, W = C) => {
    const [lse, stx, loss] = out();
    nat.multinomialNllForward(x, R, W, c0, C, i32(rowPtr), i32(cols), null, cols.length, lse, stx, loss, true, true);
  };
  assert.throws(() => fwd([0, 1, 2], [0, 5]), {
    name: "RangeError",
    message: /multinomialNllForward: column 5 of row 1 is outside \[0, 5\)/,
  });
  assert.throws(() => fwd([0, 2, 2], [3, 3]), /column 3 of row 0 is not above the previous column 3/);
  assert.throws(() => fwd([0, 2, 1], [1, 2]), /rowPtr must run from 0 to nnz 2, got 0 \.\. 1/);
  assert.throws(() => fwd([0, 3, 2], [1, 2]), /rowPtr decreases at row 1 \(3 > 2\)/);
  assert.throws(() => fwd([0, 1], [1]), /rowPtr needs elements \[0, 3\) but has only 2/);
  assert.throws(() => fwd([0, 1, 2], [1, 2], 3, 3), /the chunk \[c0, c0 \+ W\) must lie within \[0, C\)/);
  const [lse] = out();
  assert.throws(
    () => nat.multinomialNllBackward(x, R, C, 0, C, i32([0, 1, 2]), i32([1, -1]), null, 2, lse, zeros(R), x, false),
    /multinomialNllBackward: column -1 of row 1 is outside \[0, 5\)/,
  );
  freeAll();
});
