// Causal attention with key prefix, key-padding mask and dropout on the probabilities:
// forward against a float64 reference (its dropout mask from the TypeScript Philox stream,
// src/nn/philox.ts), backward against finite differences of that reference.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose, dotF64, f32, freeAll, i32, nat, numericGrad, read, rng, uniform } from "./helpers";
import { dropoutMask } from "../../src/nn/philox";

interface Layout {
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  Dh: number;
  ldq: number;
  offQ: number;
  ldk: number;
  offK: number;
  offV: number;
}

interface Drop {
  p: number;
  seed: number;
  site: number;
  step: number;
}

// The kernels' dropout arguments: keep when the top 24 bits >= round(p 2^24), scale 1/(1-p).
const dropArgs = (d?: Drop): [number, number, number, number, number] =>
  d ? [d.seed, d.site, d.step, Math.round(d.p * 2 ** 24), Math.fround(1 / (1 - d.p))] : [0, 0, 0, 0, 1];
// The mask of probability (b, h, i, j) is element ((b*H + h)*Tq + i)*Tk + j of the stream.
const probMask = (L: Layout, d?: Drop) => (d ? dropoutMask(L.B * L.H * L.Tq * L.Tk, d.p, d) : null);

// Reference semantics from kernels.h: query i sits at key position Tk - Tq + i and sees
// keys j <= that position with mask != 0; a query whose own position is masked, or that
// sees no key, outputs zeros and lse = -inf.
function attention64(
  L: Layout,
  q: ArrayLike<number>,
  kv: ArrayLike<number>,
  mask: ArrayLike<number> | null,
  drop: Float32Array | null = null,
) {
  const { B, H, Tq, Tk, Dh } = L,
    D = H * Dh,
    scale = 1 / Math.sqrt(Dh);
  const out = new Float64Array(B * Tq * D),
    lse = new Float64Array(B * H * Tq);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Tq; i++) {
        const p = Tk - Tq + i;
        const s: number[] = [],
          js: number[] = [];
        if (mask?.[b * Tk + p] !== 0) {
          for (let j = 0; j <= p; j++) {
            if (mask && mask[b * Tk + j] === 0) continue;
            let d = 0;
            for (let c = 0; c < Dh; c++)
              d += q[L.offQ + (b * Tq + i) * L.ldq + h * Dh + c] * kv[L.offK + (b * Tk + j) * L.ldk + h * Dh + c];
            s.push(d * scale);
            js.push(j);
          }
        }
        if (s.length === 0) {
          lse[(b * H + h) * Tq + i] = -Infinity;
          continue;
        }
        const mx = Math.max(...s);
        const e = s.map((v) => Math.exp(v - mx));
        const z = e.reduce((x, y) => x + y, 0);
        lse[(b * H + h) * Tq + i] = mx + Math.log(z);
        for (let t = 0; t < js.length; t++) {
          const m = drop ? drop[((b * H + h) * Tq + i) * Tk + js[t]] : 1;
          for (let c = 0; c < Dh; c++)
            out[(b * Tq + i) * D + h * Dh + c] += (e[t] / z) * m * kv[L.offV + (b * Tk + js[t]) * L.ldk + h * Dh + c];
        }
      }
  return { out, lse };
}

// Prefix layout: q [B*Tq, ldq] with padding columns, kv [B*Tk, 2*D] holding k then v.
function prefixLayout(B: number, H: number, Tq: number, Tk: number, Dh: number): Layout {
  const D = H * Dh;
  return { B, H, Tq, Tk, Dh, ldq: D + 3, offQ: 2, ldk: 2 * D, offK: 0, offV: D };
}

function buildMask(B: number, Tk: number, Tq: number, rand: () => number): Int32Array {
  const mask = new Int32Array(B * Tk);
  for (let i = 0; i < mask.length; i++) mask[i] = rand() < 0.8 ? 1 : 0;
  mask[0] = 1;
  mask[Tk - Tq] = 0; // batch 0, first query's own position masked: it must output zeros
  return mask;
}

function forwardCase(L: Layout, mask: Int32Array | null, seed: number, drop?: Drop) {
  const rand = rng(seed);
  const D = L.H * L.Dh;
  const q = uniform(rand, L.offQ + L.B * L.Tq * L.ldq, -2, 2);
  const kv = uniform(rand, L.B * L.Tk * L.ldk, -2, 2);
  const out = f32(new Float32Array(L.B * L.Tq * D).fill(NaN)),
    lse = f32(new Float32Array(L.B * L.H * L.Tq));
  const qb = f32(q),
    kvb = f32(kv),
    mb = mask ? i32(mask) : null;
  nat.attentionForward(qb, L.offQ, L.ldq, kvb, L.offK, L.offV, L.ldk, mb, out, lse, L.B, L.H, L.Tq, L.Tk, L.Dh, ...dropArgs(drop), 0);
  return { q, kv, qb, kvb, mb, out, lse, ref: attention64(L, q, kv, mask, probMask(L, drop)) };
}

test("attention forward: prefix (Tk > Tq), key mask with a fully masked query, Dh 64", () => {
  const L = prefixLayout(2, 3, 33, 40, 64);
  const mask = buildMask(L.B, L.Tk, L.Tq, rng(20));
  const r = forwardCase(L, mask, 21);
  assertClose(read(r.out), r.ref.out, "attention out", 1e-5, 1e-4);
  assertClose(read(r.lse), r.ref.lse, "attention lse", 1e-5, 1e-5);
  assert.equal(read(r.lse)[0], -Infinity, "fully masked query has lse -inf");
  assert.ok(
    read(r.out)
      .subarray(0, 64)
      .every((v) => v === 0),
    "fully masked query outputs zeros",
  );
  freeAll();
});

test("attention forward: fused qkv self-attention (Tq == Tk), no mask, odd sizes", () => {
  for (const [B, H, T, Dh] of [
    [1, 1, 1, 1],
    [2, 2, 7, 5],
    [1, 2, 1023, 64],
  ]) {
    const D = H * Dh;
    const L: Layout = { B, H, Tq: T, Tk: T, Dh, ldq: 3 * D, offQ: 0, ldk: 3 * D, offK: D, offV: 2 * D };
    const r = forwardCase(L, null, 30 + T);
    assertClose(read(r.out), r.ref.out, `attention self out T=${T}`, 1e-5, 1e-4);
    assertClose(read(r.lse), r.ref.lse, `attention self lse T=${T}`, 1e-5, 1e-5);
  }
  freeAll();
});

// Gradients of sum(w * out) with respect to q, k, v: kernel vs central differences of
// the float64 reference, at every coordinate (small) or at sampled coordinates (large).
function backwardCase(L: Layout, mask: Int32Array | null, seed: number, samples: number | null, drop?: Drop) {
  const rand = rng(seed);
  const D = L.H * L.Dh;
  const r = forwardCase(L, mask, seed + 1, drop);
  const pm = probMask(L, drop);
  const w = uniform(rand, L.B * L.Tq * D);
  const dq0 = uniform(rand, r.q.length),
    dkv0 = uniform(rand, r.kv.length);
  const dq = f32(dq0),
    dkv = f32(dkv0);
  nat.attentionBackward(
    f32(w),
    r.qb,
    L.offQ,
    L.ldq,
    r.kvb,
    L.offK,
    L.offV,
    L.ldk,
    r.mb,
    r.out,
    r.lse,
    dq,
    L.offQ,
    dkv,
    L.offK,
    L.offV,
    L.B,
    L.H,
    L.Tq,
    L.Tk,
    L.Dh,
    ...dropArgs(drop),
    0,
  );
  const gotQ = read(dq),
    gotKV = read(dkv);
  const lossQ = (v: Float64Array) => dotF64(w, attention64(L, v, r.kv, mask, pm).out);
  const lossKV = (v: Float64Array) => dotF64(w, attention64(L, r.q, v, mask, pm).out);
  const check = (loss: (v: Float64Array) => number, x: Float32Array, got: Float32Array, base: Float32Array, name: string) => {
    const idx: number[] = [];
    if (samples === null) for (let i = 0; i < x.length; i++) idx.push(i);
    else for (let s = 0; s < samples; s++) idx.push(Math.floor(rand() * x.length));
    const xs = Float64Array.from(x);
    const h = 1e-5;
    for (const i of idx) {
      const keep = xs[i];
      xs[i] = keep + h;
      const up = loss(xs);
      xs[i] = keep - h;
      const down = loss(xs);
      xs[i] = keep;
      assertClose([got[i] - base[i]], [(up - down) / (2 * h)], `${name}[${i}]`, 1e-4, 1e-3);
    }
  };
  check(lossQ, r.q, gotQ, dq0, "attention dq");
  check(lossKV, r.kv, gotKV, dkv0, "attention dkv");
}

test("attention backward: finite differences, prefix + mask (every coordinate)", () => {
  const L = prefixLayout(2, 2, 3, 5, 4);
  backwardCase(L, buildMask(L.B, L.Tk, L.Tq, rng(40)), 41, null);
  const S: Layout = { B: 1, H: 2, Tq: 4, Tk: 4, Dh: 3, ldq: 18, offQ: 0, ldk: 18, offK: 6, offV: 12 };
  backwardCase(S, null, 42, null);
  freeAll();
});

test("attention backward: finite differences at sampled coordinates, Dh 64, T 33/40", () => {
  const L = prefixLayout(2, 2, 33, 40, 64);
  backwardCase(L, buildMask(L.B, L.Tk, L.Tq, rng(50)), 51, 60);
  freeAll();
});

test("attention forward with dropout on the probabilities: the float64 reference under the TypeScript Philox mask", () => {
  const L = prefixLayout(2, 3, 33, 40, 64);
  const mask = buildMask(L.B, L.Tk, L.Tq, rng(60));
  const drop = { p: 0.3, seed: 17, site: 5, step: 9 };
  const r = forwardCase(L, mask, 61, drop);
  assertClose(read(r.out), r.ref.out, "attention out, dropout", 1e-5, 1e-4);
  assertClose(read(r.lse), r.ref.lse, "attention lse, dropout (the undropped softmax)", 1e-5, 1e-5);
  // the mask matters: without it the reference differs well beyond the tolerance
  const plain = attention64(L, r.q, r.kv, mask).out,
    got = read(r.out);
  let far = 0;
  for (let i = 0; i < got.length; i++) if (Math.abs(got[i] - plain[i]) > 1e-2) far++;
  assert.ok(far > got.length / 4, `dropout changed only ${far} of ${got.length} outputs`);
  freeAll();
});

test("attention backward with dropout: finite differences (every coordinate small, sampled at Dh 64)", () => {
  const drop = { p: 0.25, seed: 3, site: 1, step: 4 };
  const L = prefixLayout(2, 2, 3, 5, 4);
  backwardCase(L, buildMask(L.B, L.Tk, L.Tq, rng(70)), 71, null, drop);
  const S: Layout = { B: 1, H: 2, Tq: 4, Tk: 4, Dh: 3, ldq: 18, offQ: 0, ldk: 18, offK: 6, offV: 12 };
  backwardCase(S, null, 72, null, { ...drop, p: 0.5 });
  const M = prefixLayout(2, 2, 33, 40, 64);
  backwardCase(M, buildMask(M.B, M.Tk, M.Tq, rng(73)), 74, 60, drop);
  freeAll();
});

test("attention: numericGrad helper agrees with a closed form (sanity of the FD harness)", () => {
  const g = numericGrad((x) => x[0] * x[0] * x[1], [3, 2]);
  assertClose(g, [12, 9], "d(x^2 y)", 1e-5, 1e-6);
});
