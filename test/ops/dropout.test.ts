// dropout through the tape: finite differences, the forward as x * (the TypeScript Philox
// mask), no mask stored (the backward regenerates it), p = 0 as the identity, bad rates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, tidy, backward, dropout, native, reshape, rowSum, mean } from "../../src/engine";
import { dropoutMask } from "../../src/nn/philox";
import { checkGradients } from "./fd";

const stream = { seed: 9, site: 1, step: 2 };

test("dropout: dx by finite differences (p 0.3 and 0.6)", () => {
  for (const p of [0.3, 0.6]) checkGradients(`dropout p=${p}`, [{ name: "x", shape: [5, 7] }], ([x]) => dropout(x, p, stream));
});

test("dropout: forward is x * mask of the stream; the tape holds no mask buffer", () => {
  const n = 1001,
    p = 0.2;
  const x0 = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
  const x = Tensor.from(x0, [n], { requiresGrad: true });
  const m = dropoutMask(n, p, stream);
  tidy(() => {
    const before = native().stats().liveBuffers;
    const y = dropout(x, p, stream);
    assert.equal(native().stats().liveBuffers, before + 1, "only y is allocated: no host mask uploaded");
    assert.deepEqual(
      y.toFloat32(),
      Float32Array.from(x0, (v, i) => v * m[i]),
    );
    backward(mean(rowSum(reshape(y, [1, n]))));
  });
  assert.deepEqual(x.grad!.toFloat32(), m, "d rowSum(y) / dx = the same mask, regenerated");
  x.dispose();
});

test("dropout: p = 0 is the identity, p outside [0, 1) and bad counters are RangeErrors", () => {
  const x = Tensor.from([1, 2, 3], [3]);
  assert.equal(dropout(x, 0, stream), x);
  assert.throws(() => dropout(x, 1, stream), /dropout: dropout p must be in \[0, 1\), got 1/);
  assert.throws(() => dropout(x, -0.1, stream), /got -0.1/);
  assert.throws(
    () => dropout(x, 0.1, { ...stream, step: 2 ** 32 }),
    /dropout: dropout step must be an integer in \[0, 2\^32\), got 4294967296/,
  );
  assert.throws(() => dropout(x, 0.1, { ...stream, seed: 1.5 }), /seed must be an integer/);
  x.dispose();
});
