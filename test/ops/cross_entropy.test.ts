// The cross-entropy family through the tape: both ops' gradients against finite
// differences (kept and recomputed logits, a frozen head), and the chunked LM head
// equal to the unfused matmul + softmax cross-entropy for the loss and both gradients.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, tidy, backward, matmul, softmaxCrossEntropy, native, noGrad } from "../../src/engine";
import { linearCrossEntropy } from "../../src/engine/ops/cross_entropy";
import { lcg, randn } from "../helpers";
import { checkGradients } from "./fd";

function close(a: Float32Array, b: Float32Array, label: string) {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 + 1e-4 * Math.abs(b[i]), `${label}[${i}]: ${a[i]} vs ${b[i]}`);
}

test("chunked head cross-entropy matches the unfused ops (loss, dh, dW), masked rows included", () => {
  const rnd = lcg(9);
  const n = 11,
    d = 5,
    C = 13;
  const targets = Int32Array.from({ length: n }, (_, i) => (i % 4 === 3 ? -1 : (i * 7) % C));
  const hData = randn(n * d, 1, rnd),
    wData = randn(C * d, 1, rnd);
  const run = (fused: boolean, chunkRows?: number, keepBytes?: number, chunkColumns?: number) =>
    tidy(() => {
      const h = Tensor.from(hData, [n, d], { requiresGrad: true });
      const w = Tensor.from(wData, [C, d], { requiresGrad: true });
      const loss = fused
        ? linearCrossEntropy(h, w, targets, { chunkRows, keepBytes, chunkColumns })
        : softmaxCrossEntropy(matmul(h, w, { transB: true }), Tensor.from(targets, [n]), targets);
      const value = loss.item();
      backward(loss);
      const out = { value, dh: h.grad!.toFloat32(), dw: w.grad!.toFloat32() };
      h.dispose();
      w.dispose();
      return out;
    });
  const ref = run(false);
  for (const [chunk, keepBytes] of [
    [1, 0],
    [3, 0],
    [4, 0],
    [11, 0],
    [3, undefined],
    [undefined, undefined],
  ]) {
    const got = run(true, chunk, keepBytes);
    const label = `chunk ${chunk}, keep ${keepBytes}`;
    assert.ok(Math.abs(got.value - ref.value) <= 1e-5 * Math.abs(ref.value), `loss ${got.value} vs ${ref.value} (${label})`);
    close(got.dh, ref.dh, `dh ${label}`);
    close(got.dw, ref.dw, `dW ${label}`);
  }
  // column chunks (one-hot multinomial NLL over chunks of W's rows): one class per chunk, an
  // uneven split, exactly C, more than C
  for (const cols of [1, 4, 13, 40]) {
    const got = run(true, undefined, undefined, cols);
    assert.ok(Math.abs(got.value - ref.value) <= 1e-5 * Math.abs(ref.value), `loss ${got.value} vs ${ref.value} (columns ${cols})`);
    close(got.dh, ref.dh, `dh columns ${cols}`);
    close(got.dw, ref.dw, `dW columns ${cols}`);
  }
});

test("a trainable head whose row chunks would re-read W takes column chunks; all rows masked gives 0", () => {
  tidy(() => {
    // defaultChunkRows(500,000) = 33 rows < 40: row chunks would read all of W twice
    const n = 40,
      d = 2,
      C = 500_000;
    const h = Tensor.from(new Float32Array(n * d).fill(0.1), [n, d], { requiresGrad: true });
    const w = Tensor.from(new Float32Array(C * d).fill(0.01), [C, d], { requiresGrad: true });
    const t = Int32Array.from({ length: n }, (_, i) => (i * 9973) % C);
    native().resetStats();
    const loss = linearCrossEntropy(h, w, t);
    // every logit is the same: the loss is log C
    assert.ok(Math.abs(loss.item() - Math.log(C)) < 1e-4 * Math.log(C), `loss ${loss.item()} vs log C`);
    assert.ok((native().stats().launches.multinomialNllForward ?? 0) > 0, "column chunks (multinomialNllForward)");
    assert.equal(native().stats().launches.crossEntropyForward ?? 0, 0);
    backward(loss);
    assert.ok(w.grad && h.grad);
    const masked = linearCrossEntropy(h, w, new Int32Array(n).fill(-1), { chunkColumns: 4096 });
    assert.equal(masked.item(), 0);
    h.dispose();
    w.dispose();
  });
});

test("a frozen head gets no weight-gradient GEMM; bad targets are RangeErrors", () => {
  tidy(() => {
    const h = Tensor.from(new Float32Array(6 * 4).fill(0.1), [6, 4], { requiresGrad: true });
    const w = Tensor.from(new Float32Array(9 * 4).fill(0.2), [9, 4]);
    const t = Int32Array.from([0, 1, 2, -1, 4, 5]);
    native().resetStats();
    backward(linearCrossEntropy(h, w, t, { chunkRows: 2, keepBytes: 0, fused: false }));
    // forward: 3 chunk GEMMs; backward: per chunk one recompute + one dh GEMM, no dW
    assert.equal(native().stats().launches.gemm, 3 + 6);
    native().resetStats();
    backward(linearCrossEntropy(h, w, t, { chunkRows: 2, fused: false }));
    // small logits are kept: no recompute
    assert.equal(native().stats().launches.gemm, 3 + 3);
    native().resetStats();
    backward(linearCrossEntropy(h, w, t));
    // the fused CPU kernel (the default for a frozen head): one launch, no GEMM, no recompute
    assert.equal(native().stats().launches.gemm ?? 0, 0);
    assert.equal(native().stats().launches.linearXentForward, 1);
    assert.throws(() => linearCrossEntropy(h, w, Int32Array.from([0, 1, 2, 3, 4, 9])), /target 9 at row 5 is out of range for 9 classes/);
    h.dispose();
  });
});

test("softmaxCrossEntropy and linearCrossEntropy: gradients against finite differences", () => {
  const host = Int32Array.from([2, -1, 0, 4, 1]);
  const targets = Tensor.from(host, [5], { dtype: "i32" });
  checkGradients("softmaxCrossEntropy", [{ name: "logits", shape: [5, 5] }], ([x]) => softmaxCrossEntropy(x, targets, host));
  // kept logits (the default for small heads) and recomputed ones, in chunks of 2 rows
  for (const keepBytes of [undefined, 0])
    checkGradients(
      `linearCrossEntropy keepBytes=${keepBytes}`,
      [
        { name: "h", shape: [5, 3] },
        { name: "W", shape: [5, 3] },
      ],
      ([h, w]) => linearCrossEntropy(h, w, host, { chunkRows: 2, keepBytes }),
    );
  checkGradients(
    "linearCrossEntropy column chunks",
    [
      { name: "h", shape: [5, 3] },
      { name: "W", shape: [5, 3] },
    ],
    ([h, w]) => linearCrossEntropy(h, w, host, { chunkColumns: 2 }),
  );
  checkGradients(
    "linearCrossEntropy frozen W",
    [
      { name: "h", shape: [5, 3] },
      { name: "W", shape: [5, 3], grad: false },
    ],
    ([h, w]) => linearCrossEntropy(h, w, host, { chunkRows: 2, fused: false }),
  );
  checkGradients(
    "linearCrossEntropy frozen W, fused CPU kernel",
    [
      { name: "h", shape: [5, 3] },
      { name: "W", shape: [5, 3], grad: false },
    ],
    ([h, w]) => linearCrossEntropy(h, w, host, { fused: true }),
  );
  targets.dispose();
});

test("the fused head (frozen W) matches the unfused ops: loss and dh, masked rows, no-grad forward", () => {
  const rnd = lcg(21);
  for (const [n, d, C] of [
    [11, 5, 13],
    [40, 33, 700],
  ]) {
    const targets = Int32Array.from({ length: n }, (_, i) => (i % 4 === 3 ? -1 : (i * 7) % C));
    const hData = randn(n * d, 1, rnd),
      wData = randn(C * d, 1, rnd);
    const run = (mode: "ops" | "chunked" | "fused") =>
      tidy(() => {
        const h = Tensor.from(hData, [n, d], { requiresGrad: true });
        const w = Tensor.from(wData, [C, d]);
        const loss =
          mode === "ops"
            ? softmaxCrossEntropy(matmul(h, w, { transB: true }), Tensor.from(targets, [n]), targets)
            : linearCrossEntropy(h, w, targets, { fused: mode === "fused" });
        const value = loss.item();
        backward(loss);
        const out = { value, dh: h.grad!.toFloat32() };
        h.dispose();
        return out;
      });
    const ref = run("ops");
    for (const mode of ["chunked", "fused"] as const) {
      const got = run(mode);
      assert.ok(Math.abs(got.value - ref.value) <= 1e-5 * Math.abs(ref.value), `${mode} loss ${got.value} vs ${ref.value}`);
      close(got.dh, ref.dh, `${mode} dh ${n}x${d}x${C}`);
    }
    const noGradValue = tidy(() =>
      noGrad(() => linearCrossEntropy(Tensor.from(hData, [n, d]), Tensor.from(wData, [C, d]), targets).item()),
    );
    assert.ok(Math.abs(noGradValue - ref.value) <= 1e-5 * Math.abs(ref.value));
  }
});
