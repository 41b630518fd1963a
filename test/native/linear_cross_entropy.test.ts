// The fused vocabulary head + cross-entropy kernel (CPU) against a float64 reference of
// logits = h W^T, log-sum-exp, loss and dh = softmax(logits) W - W[target]; shapes cover
// several row blocks, vocabulary splits, ragged tiles and masked rows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { f32, i32, zeros, nat, freeAll, uniform, rng, read } from "./helpers";

/** Row r's logits h[r] W^T (float64) into `logits`; returns their log-sum-exp. */
function rowLogits(h: ArrayLike<number>, W: ArrayLike<number>, r: number, C: number, d: number, logits: Float64Array): number {
  let mx = -Infinity;
  for (let j = 0; j < C; j++) {
    let s = 0;
    for (let p = 0; p < d; p++) s += h[r * d + p] * W[j * d + p];
    logits[j] = s;
    mx = Math.max(mx, s);
  }
  let sum = 0;
  for (let j = 0; j < C; j++) sum += Math.exp(logits[j] - mx);
  return mx + Math.log(sum);
}

function reference(h: Float32Array, W: Float32Array, t: Int32Array, n: number, C: number, d: number) {
  const loss = new Float64Array(n),
    lse = new Float64Array(n),
    dh = new Float64Array(n * d);
  const logits = new Float64Array(C);
  for (let r = 0; r < n; r++) {
    if (t[r] < 0) continue;
    lse[r] = rowLogits(h, W, r, C, d, logits);
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

// ---- the BF16 twin (AVX512_BF16): W frozen and packed twice, h and the probabilities rounded
const bf = (x: number): number => {
  const f = new Float32Array([x]),
    u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000; // round to nearest even
  return f[0];
};

for (const [n, C, d] of [...SHAPES, [40, 2000, 130] as [number, number, number]]) {
  test(`linearXentBf16Forward ${n}x${C}x${d}: the float64 model of its roundings, and 1e-2 of fp32`, (t) => {
    if (!nat.bf16Supported()) {
      t.skip("no AVX512_BF16 on this CPU");
      return;
    }
    const h = uniform(rng(n + C), n * d),
      W = uniform(rng(d + 7), C * d, -0.5, 0.5);
    const tg = Int32Array.from({ length: n }, (_, r) => (r % 5 === 2 ? -1 : (r * 7919) % C));
    const Wtb = nat.alloc(0, 1, nat.bf16PackedWords(d, C)),
      Wrb = nat.alloc(0, 1, nat.bf16PackedWords(C, d));
    nat.bf16PackB(true, f32(W), d, C, Wtb);
    nat.bf16PackB(false, f32(W), C, d, Wrb);
    const loss = zeros(n),
      lse = zeros(n),
      dh = zeros(n * d);
    nat.linearXentBf16Forward(f32(h), f32(W), Wtb, Wrb, i32(tg), loss, lse, dh, n, C, d);
    const [gl, gs, gd] = [read(loss), read(lse), read(dh)];
    // the model: logits over BF16 h and W; dh = sum_j p_j bf(W_j) - W_t (fp32 W_t), where
    // the kernel also rounds each p_j to BF16: |error| <= 2^-8 sum_j p_j |bf(W_jq)| (+ fp32 sums)
    const hb = h.map(bf),
      Wb = W.map(bf);
    const logits = new Float64Array(C);
    for (let r = 0; r < n; r++) {
      if (tg[r] < 0) {
        assert.equal(gl[r], 0);
        continue;
      }
      const l = rowLogits(hb, Wb, r, C, d, logits);
      assert.ok(Math.abs(gs[r] - l) <= 2e-5 * (1 + Math.abs(l)), `lse[${r}] ${gs[r]} vs ${l}`);
      assert.ok(Math.abs(gl[r] - (l - logits[tg[r]])) <= 2e-5 * (1 + Math.abs(l)), `loss[${r}] ${gl[r]}`);
      for (let q = 0; q < d; q++) {
        let v = -W[tg[r] * d + q],
          bound = 0;
        for (let j = 0; j < C; j++) {
          const pj = Math.exp(logits[j] - l);
          v += pj * Wb[j * d + q];
          bound += pj * Math.abs(Wb[j * d + q]);
        }
        assert.ok(Math.abs(gd[r * d + q] - v) <= 2 ** -8 * bound + 1e-5, `dh[${r},${q}] ${gd[r * d + q]} vs ${v} (bound ${bound})`);
      }
    }
    // against the fp32 kernel: the documented tolerance, relative RMS of dh below 1e-2
    const dh32 = zeros(n * d);
    nat.linearXentForward(f32(h), f32(W), i32(tg), zeros(n), zeros(n), dh32, n, C, d);
    const g32 = read(dh32);
    let num = 0,
      den = 0;
    for (let i = 0; i < n * d; i++) {
      num += (gd[i] - g32[i]) ** 2;
      den += g32[i] ** 2;
    }
    assert.ok(Math.sqrt(num / den) < 1e-2, `relative RMS vs fp32 ${Math.sqrt(num / den)}`);
    nat.free(Wtb);
    nat.free(Wrb);
    freeAll();
  });
}

test("linearXentBf16Forward checks its packed operands and targets", (t) => {
  if (!nat.bf16Supported()) {
    t.skip("no AVX512_BF16 on this CPU");
    return;
  }
  const h = f32(new Float32Array(8)),
    W = f32(new Float32Array(12));
  const small = nat.alloc(0, 1, 4),
    Wrb = nat.alloc(0, 1, nat.bf16PackedWords(3, 4));
  assert.throws(
    () => nat.linearXentBf16Forward(h, W, small, Wrb, i32(Int32Array.from([0, 1])), zeros(2), zeros(2), null, 2, 3, 4),
    /linearXentBf16Forward: Wtb needs/,
  );
  const Wtb = nat.alloc(0, 1, nat.bf16PackedWords(4, 3));
  assert.throws(
    () => nat.linearXentBf16Forward(h, W, Wtb, Wrb, i32(Int32Array.from([0, 3])), zeros(2), zeros(2), null, 2, 3, 4),
    /linearXentBf16Forward: target 3 at row 1 is out of range for 3 classes/,
  );
  for (const b of [small, Wrb, Wtb]) nat.free(b);
  freeAll();
});
