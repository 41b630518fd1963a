// multinomialNll (sparse targets) and the chunked head linearMultinomialNll through the tape
// against finite differences; the chunked head against the unfused composition.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tidy,
  backward,
  matmul,
  multinomialNll,
  linearMultinomialNll,
  multiHotTargets,
  type SparseTargets,
} from "../../src/engine";
import { checkGradients } from "./fd";
import { lcg, randn } from "../helpers";

// rows of a [3, 6] count matrix: row 0 {0: 1, 2: 1}, row 1 {0: 2, 2: 1, 3: 1}, row 2 {3: 3}
const counts: SparseTargets = {
  rowPtr: Int32Array.from([0, 2, 5, 6]),
  cols: Int32Array.from([0, 2, 0, 2, 3, 3]),
  values: Float32Array.from([1, 1, 2, 1, 1, 3]),
  columns: 6,
};

test("multinomialNll: dlogits with multi-hot and count targets (sparse)", () => {
  checkGradients("multinomialNll counts", [{ name: "logits", shape: [3, 6] }], ([x]) => multinomialNll(x, counts));
  const hot = multiHotTargets([[5, 1, 1], [], [0, 4]], 6);
  assert.deepEqual(Array.from(hot.rowPtr), [0, 2, 2, 4], "a repeat counts once, an empty row has no targets");
  assert.deepEqual(Array.from(hot.cols), [1, 5, 0, 4], "columns sorted within each row");
  checkGradients("multinomialNll multi-hot", [{ name: "logits", shape: [3, 6] }], ([x]) => multinomialNll(x, hot));
});

test("multiHotTargets and multinomialNll reject bad targets, naming the op, row and column", () => {
  assert.throws(() => multiHotTargets([[0], [2, 6]], 6, "recLoss"), /recLoss: column 6 of row 1 is outside \[0, 6\)/);
  assert.throws(() => multiHotTargets([[-1]], 6), /column -1 of row 0/);
  tidy(() => {
    const x = Tensor.from(new Float32Array(12), [2, 6]);
    const csr = (cols: number[], rowPtr = [0, 1, cols.length]): SparseTargets => ({
      rowPtr: Int32Array.from(rowPtr),
      cols: Int32Array.from(cols),
      columns: 6,
    });
    assert.throws(() => multinomialNll(x, csr([1, 3, 2])), /multinomialNllForward: column 2 of row 1 is not above the previous column 3/);
    assert.throws(() => multinomialNll(x, csr([1, 7])), { name: "RangeError", message: /column 7 of row 1 is outside \[0, 6\)/ });
    assert.throws(() => multinomialNll(x, csr([1, 2], [0, 2, 1])), /rowPtr must run from 0 to nnz 2/);
    assert.throws(() => multinomialNll(x, csr([1, 2], [0, 1])), /rowPtr must have 3 entries/);
    assert.throws(() => multinomialNll(x, { ...csr([1, 2]), columns: 7 }), /targets have 7 columns but the scores 6/);
  });
});

test("linearMultinomialNll: dh and dW match finite differences, chunked and whole", () => {
  const t = multiHotTargets([[0, 9, 10], [4], [1, 2, 3, 8]], 11);
  for (const chunkColumns of [4, 11]) {
    checkGradients(
      `linearMultinomialNll chunk ${chunkColumns}`,
      [
        { name: "h", shape: [3, 5] },
        { name: "W", shape: [11, 5] },
      ],
      ([h, w]) => linearMultinomialNll(h, w, t, { chunkColumns }),
    );
  }
});

test("linearMultinomialNll equals multinomialNll(h W^T): bit for bit in one chunk, to float rounding in chunks", () => {
  const rnd = lcg(5);
  const B = 7,
    J = 1000,
    d = 24;
  const hv = randn(B * d, 1, rnd),
    wv = randn(J * d, 0.5, rnd);
  const rows = Array.from({ length: B }, (_, r) => Array.from({ length: 3 + r * 5 }, () => Math.floor(rnd() * J)));
  const t = multiHotTargets(rows, J);
  const run = (f: (h: Tensor, w: Tensor) => Tensor) => {
    const h = Tensor.from(hv, [B, d], { requiresGrad: true }),
      w = Tensor.from(wv, [J, d], { requiresGrad: true });
    const loss = tidy(() => {
      const l = f(h, w);
      backward(l);
      return l.item();
    });
    const out = { loss, dh: h.grad!.toFloat32(), dw: w.grad!.toFloat32() };
    h.dispose();
    w.dispose();
    return out;
  };
  const ref = run((h, w) => multinomialNll(matmul(h, w, { transB: true }), t));
  const one = run((h, w) => linearMultinomialNll(h, w, t));
  assert.equal(one.loss, ref.loss, "one chunk: loss");
  assert.deepEqual(one.dh, ref.dh, "one chunk: dh");
  assert.deepEqual(one.dw, ref.dw, "one chunk: dW");
  const chunked = run((h, w) => linearMultinomialNll(h, w, t, { chunkColumns: 96 }));
  assert.ok(Math.abs(chunked.loss - ref.loss) <= 1e-5 * Math.abs(ref.loss), `chunked loss ${chunked.loss} vs ${ref.loss}`);
  const close = (a: Float32Array, b: Float32Array, what: string) => {
    const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < a.length; i++)
      assert.ok(
        Math.abs(a[i] - b[i]) <= 1e-5 * scale + 1e-4 * Math.abs(b[i]),
        `chunked ${what}[${i}]: ${a[i]} vs ${b[i]} (largest ${scale})`,
      );
  };
  close(chunked.dh, ref.dh, "dh");
  close(chunked.dw, ref.dw, "dW");
});
