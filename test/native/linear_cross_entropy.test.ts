// The fused vocabulary head + cross-entropy kernel (CPU) against a float64 reference of
// logits = h W^T, log-sum-exp, loss and dh = softmax(logits) W - W[target]; shapes cover
// several row blocks, vocabulary splits, ragged tiles and masked rows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { f32, i32, zeros, nat, freeAll, uniform, rng, read } from "./helpers";

function reference(h: Float32Array, W: Float32Array, t: Int32Array, n: number, C: number, d: number) {
  const loss = new Float64Array(n),
    lse = new Float64Array(n),
    dh = new Float64Array(n * d);
  const logits = new Float64Array(C);
  for (let r = 0; r < n; r++) {
    if (t[r] < 0) continue;
    let mx = -Infinity;
    for (let j = 0; j < C; j++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += h[r * d + p] * W[j * d + p];
      logits[j] = s;
      mx = Math.max(mx, s);
    }
    let sum = 0;
    for (let j = 0; j < C; j++) sum += Math.exp(logits[j] - mx);
    lse[r] = mx + Math.log(sum);
    loss[r] = lse[r] - logits[t[r]];
    for (let j = 0; j < C; j++) {
      const p = Math.exp(logits[j] - lse[r]) - (j === t[r] ? 1 : 0);
      for (let q = 0; q < d; q++) dh[r * d + q] += p * W[j * d + q];
    }
  }
  return { loss, lse, dh };
}

// n x C x d: one block; two row blocks; a vocabulary split (C > 16 tiles); d not a multiple of 32
const SHAPES: [number, number, number][] = [
  [5, 7, 3],
  [150, 300, 40],
  [30, 9000, 24],
  [13, 777, 100],
  [24, 513, 64],
];

for (const [n, C, d] of SHAPES) {
  test(`linearXentForward ${n}x${C}x${d} matches the float64 reference (loss, lse, dh)`, () => {
    const h = uniform(rng(n + C), n * d),
      W = uniform(rng(d + 7), C * d, -0.5, 0.5);
    const t = Int32Array.from({ length: n }, (_, r) => (r % 5 === 2 ? -1 : (r * 7919) % C));
    const loss = zeros(n),
      lse = zeros(n),
      dh = zeros(n * d);
    nat.linearXentForward(f32(h), f32(W), i32(t), loss, lse, dh, n, C, d);
    const ref = reference(h, W, t, n, C, d);
    const [gl, gs, gd] = [read(loss), read(lse), read(dh)];
    for (let r = 0; r < n; r++) {
      assert.ok(Math.abs(gl[r] - ref.loss[r]) <= 2e-5 * (1 + Math.abs(ref.loss[r])), `loss[${r}] ${gl[r]} vs ${ref.loss[r]}`);
      assert.ok(Math.abs(gs[r] - ref.lse[r]) <= 2e-5 * (1 + Math.abs(ref.lse[r])), `lse[${r}] ${gs[r]} vs ${ref.lse[r]}`);
    }
    for (let i = 0; i < n * d; i++)
      assert.ok(Math.abs(gd[i] - ref.dh[i]) <= 1e-5 + 1e-4 * Math.abs(ref.dh[i]), `dh[${i}] ${gd[i]} vs ${ref.dh[i]}`);
    // without dh the loss is the same (the second product is skipped)
    const loss2 = zeros(n);
    nat.linearXentForward(f32(h), f32(W), i32(t), loss2, zeros(n), null, n, C, d);
    assert.deepEqual(read(loss2), gl);
    freeAll();
  });
}

test("linearXentForward rejects bad targets and shapes with errors naming the op", () => {
  const h = f32(new Float32Array(8)),
    W = f32(new Float32Array(12));
  assert.throws(
    () => nat.linearXentForward(h, W, i32(Int32Array.from([0, 3])), zeros(2), zeros(2), null, 2, 3, 4),
    (e: Error) => e instanceof RangeError && /^linearXentForward: target 3 at row 1 is out of range for 3 classes/.test(e.message),
  );
  assert.throws(
    () => nat.linearXentForward(h, W, i32(Int32Array.from([0, 1])), zeros(2), zeros(2), null, 2, 4, 4),
    /linearXentForward: W needs elements/,
  );
  freeAll();
});
