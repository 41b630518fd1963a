// CUDA attention against the CPU attention: causal, key-padding mask (including queries
// whose own position is masked), key prefix (Tk > Tq), fused-qkv and separate layouts,
// head dims 1..128, T up to 1023, dropout on the probabilities (both regenerate the same
// Philox mask: a disagreement would move outputs far past the tolerance); forward (out, lse)
// and backward (dq, dk, dv). These run attention v1 (the FP32 reference kernels), pinned:
// v2 (tensor cores, BF16 tolerance) is checked by attention_flash.test.ts.
import { test, after } from "node:test";
import { expectClose, freeAll, nat, plumbing, rng, skipCuda, type Twin, twinF32, twinI32, uniform, TOL_REDUCTION } from "./twin";
import { attentionBoth } from "./attention_twin";

// plumbing mode's addon has no CUDA kernels, hence no versions to pick
const pinVersion = (v: number) => {
  if (!skipCuda && !plumbing) nat().setAttentionVersion(v);
};

after(() => {
  pinVersion(2);
  if (!skipCuda) freeAll();
});

interface Case {
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  Dh: number;
  masked: boolean;
  fused: boolean;
  p?: number;
}

function run(c: Case, seed: number): void {
  pinVersion(1);
  const rand = rng(seed);
  const { B, H, Tq, Tk, Dh } = c,
    D = H * Dh;
  const name = JSON.stringify(c);
  const drop: [number, number, number, number, number] = c.p
    ? [seed, 7, 11, Math.round(c.p * 2 ** 24), Math.fround(1 / (1 - c.p))]
    : [0, 0, 0, 0, 1];
  let q: Twin, kv: Twin, offQ: number, ldq: number, offK: number, offV: number, ldk: number;
  if (c.fused) {
    // one [B*T, 3D] buffer, as the QKV projection writes it (Tq == Tk)
    q = kv = twinF32(uniform(rand, B * Tk * 3 * D, -2, 2));
    offQ = 0;
    offK = D;
    offV = 2 * D;
    ldq = ldk = 3 * D;
  } else {
    // prompt prefix: q rows with padding columns, kv [B*Tk, 2D + 1]
    ldq = D + 3;
    offQ = 2;
    ldk = 2 * D + 1;
    offK = 1;
    offV = D + 1;
    q = twinF32(uniform(rand, offQ + B * Tq * ldq, -2, 2));
    kv = twinF32(uniform(rand, 1 + B * Tk * ldk, -2, 2));
  }
  let mask: Twin | null = null;
  if (c.masked) {
    const m = new Int32Array(B * Tk);
    for (let i = 0; i < m.length; i++) m[i] = rand() < 0.8 ? 1 : 0;
    m[Tk - Tq] = 0; // batch 0, first query's own position masked: zeros, lse = -inf
    if (B > 1) m[Tk] = 1;
    mask = twinI32(m);
  }
  const dout = twinF32(uniform(rand, B * Tq * D));
  const { out, lse, dq, dkv } = attentionBoth(
    { q, kv, offQ, ldq, offK, offV, ldk, mask, dqLength: offQ + B * Tq * ldq, dkvLength: c.fused ? B * Tk * 3 * D : 1 + B * Tk * ldk },
    c,
    drop,
    dout,
  );
  expectClose(out, `attention out ${name}`, TOL_REDUCTION);
  expectClose(lse, `attention lse ${name}`, TOL_REDUCTION);
  expectClose(dq, `attention dq ${name}`, TOL_REDUCTION);
  if (!c.fused) expectClose(dkv, `attention dk/dv ${name}`, TOL_REDUCTION);
}

test("cuda attention: tiny and odd shapes", { skip: skipCuda }, () => {
  run({ B: 1, H: 1, Tq: 1, Tk: 1, Dh: 1, masked: false, fused: true }, 1);
  run({ B: 2, H: 3, Tq: 7, Tk: 7, Dh: 33, masked: true, fused: true }, 2);
  run({ B: 3, H: 2, Tq: 5, Tk: 40, Dh: 16, masked: true, fused: false }, 3);
  run({ B: 2, H: 2, Tq: 33, Tk: 33, Dh: 64, masked: false, fused: false }, 4);
});

test("cuda attention: key prefix with padding mask, head dim 128", { skip: skipCuda }, () => {
  run({ B: 2, H: 2, Tq: 33, Tk: 97, Dh: 128, masked: true, fused: false }, 5);
  run({ B: 1, H: 1, Tq: 1, Tk: 300, Dh: 64, masked: true, fused: false }, 6);
});

test("cuda attention: dropout on the probabilities, self-attention and key prefix", { skip: skipCuda }, () => {
  run({ B: 2, H: 3, Tq: 7, Tk: 7, Dh: 33, masked: true, fused: true, p: 0.3 }, 8);
  run({ B: 2, H: 2, Tq: 33, Tk: 97, Dh: 64, masked: true, fused: false, p: 0.1 }, 9);
  run({ B: 1, H: 1, Tq: 1, Tk: 300, Dh: 64, masked: false, fused: false, p: 0.5 }, 10);
});

test("cuda attention: T = 1023", { skip: skipCuda }, () => {
  run({ B: 1, H: 2, Tq: 1023, Tk: 1023, Dh: 64, masked: true, fused: true }, 7);
});
