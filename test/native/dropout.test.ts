// The dropout kernel family against the TypeScript reference (src/nn/philox.ts): the C++
// Philox4x32-10 on Random123's known-answer vectors and on the TS stream word for word, the
// masks bit for bit, keep-rate statistics, the backward regenerating the same mask, and
// argument checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { f32, freeAll, i32, nat, read, rng, uniform, zeros } from "./helpers";
import { philox4x32, dropoutMask, DROPOUT_KEY1 } from "../../src/nn/philox";

const words = (buf: ReturnType<typeof i32>, n: number) => {
  const out = new Int32Array(n);
  nat.download(buf, out);
  return Array.from(out, (w) => (w >>> 0).toString(16).padStart(8, "0"));
};
const args = (p: number, s: { seed: number; site: number; step: number }): [number, number, number, number, number] => [
  s.seed,
  s.site,
  s.step,
  Math.round(p * 2 ** 24),
  Math.fround(1 / (1 - p)),
];

test("philox_blocks: Random123 known-answer vectors, and the 64-bit block counter carries", () => {
  const kat: [number[], string][] = [
    [[0, 0, 0, 0, 0, 0], "6627e8d5 e169c58d bc57ac4c 9b00dbd8"],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], "408f276d 41c83b0e a20bc7c6 6d5451fd"],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0], "d16cfe09 94fdcceb 5001e420 24126ea1"],
  ];
  for (const [[c0, c1, c2, c3, k0, k1], want] of kat) {
    const out = i32(new Int32Array(4));
    nat.philoxBlocks(out, 1, c0, c1, c2, c3, k0, k1);
    assert.equal(words(out, 4).join(" "), want);
  }
  // block b of counter (c1:c0) is counter c + b: c0 = 2^32 - 1 rolls into c1
  const out = i32(new Int32Array(8)),
    w = new Uint32Array(4);
  nat.philoxBlocks(out, 2, 0xffffffff, 7, 1, 2, 3, 4);
  philox4x32(0, 8, 1, 2, 3, 4, w);
  assert.deepEqual(
    words(out, 8).slice(4),
    Array.from(w, (x) => x.toString(16).padStart(8, "0")),
  );
  freeAll();
});

test("philox_blocks equals the TypeScript Philox word for word on random counters and keys", () => {
  const rand = rng(3),
    w = new Uint32Array(4);
  for (let t = 0; t < 50; t++) {
    const c = Array.from({ length: 6 }, () => Math.floor(rand() * 2 ** 32));
    const n = 1 + Math.floor(rand() * 9);
    const out = i32(new Int32Array(4 * n));
    nat.philoxBlocks(out, n, c[0], c[1], c[2], c[3], c[4], c[5]);
    const got = new Int32Array(4 * n);
    nat.download(out, got);
    for (let b = 0; b < n; b++) {
      const cb = c[0] + b; // below 2^53: exact
      philox4x32(cb >>> 0, (c[1] + Math.floor(cb / 2 ** 32)) >>> 0, c[2], c[3], c[4], c[5], w);
      for (let k = 0; k < 4; k++) assert.equal(got[4 * b + k] >>> 0, w[k], `trial ${t} block ${b} word ${k}`);
    }
  }
  freeAll();
});

test("dropout_forward: the TypeScript mask bit for bit (odd sizes, parallel sizes, extreme counters)", () => {
  const streams = [
    { seed: 42, site: 3, step: 7 },
    { seed: 0xffffffff, site: 0xffffffff, step: 0xffffffff },
    { seed: 0, site: 0, step: 0 },
  ];
  const rand = rng(8);
  for (const n of [1, 3, 4, 5, 4097, 70001]) {
    for (const p of [0.1, 0.5, 0.9]) {
      for (const s of streams) {
        const x = uniform(rand, n, -3, 3),
          y = zeros(n);
        nat.dropoutForward(f32(x), y, n, ...args(p, s));
        const m = dropoutMask(n, p, s),
          got = read(y);
        for (let i = 0; i < n; i++) {
          const want = Math.fround(x[i] * m[i]);
          if (!Object.is(got[i], want)) assert.fail(`n=${n} p=${p} ${JSON.stringify(s)}: y[${i}] ${got[i]} !== ${want}`);
        }
      }
      freeAll();
    }
  }
  // the stream key is the reference's: a mask drawn with another key word would not match
  assert.equal(DROPOUT_KEY1, 0x6c6c6d34);
});

test("dropout_forward: keep rate within 4 binomial sigmas, kept values exactly x/(1-p), in place", () => {
  const n = 200_003;
  for (const p of [0.1, 0.5]) {
    const ones = f32(new Float32Array(n).fill(1));
    nat.dropoutForward(ones, ones, n, ...args(p, { seed: 5, site: 1, step: 2 })); // y aliases x
    const y = read(ones);
    let kept = 0;
    for (const v of y) {
      if (v !== 0) {
        kept++;
        assert.equal(v, Math.fround(1 / (1 - p)));
      }
    }
    const sigma = Math.sqrt((p * (1 - p)) / n);
    assert.ok(Math.abs(kept / n - (1 - p)) < 4 * sigma, `p=${p}: keep rate ${kept / n}, want ${1 - p} ± ${4 * sigma}`);
    freeAll();
  }
  // threshold 0 with scale 1 keeps everything unchanged
  const x = uniform(rng(1), 9),
    y = zeros(9);
  nat.dropoutForward(f32(x), y, 9, 1, 2, 3, 0, 1);
  assert.deepEqual(read(y), x);
  freeAll();
});

test("dropout_backward regenerates the forward's mask: dx (+)= dy * mask", () => {
  const n = 5003,
    p = 0.3,
    s = { seed: 11, site: 2, step: 6 };
  const rand = rng(4);
  const dy = uniform(rand, n),
    d0 = uniform(rand, n);
  const m = dropoutMask(n, p, s);
  for (const accumulate of [false, true]) {
    const dx = f32(d0);
    nat.dropoutBackward(f32(dy), dx, n, ...args(p, s), accumulate);
    const got = read(dx);
    for (let i = 0; i < n; i++) {
      const g = Math.fround(dy[i] * m[i]);
      const want = accumulate ? Math.fround(d0[i] + g) : g;
      if (!Object.is(got[i], want)) assert.fail(`accumulate=${accumulate}: dx[${i}] ${got[i]} !== ${want}`);
    }
  }
  freeAll();
});

test("dropout kernels: counters, threshold and scale are checked, naming the kernel", () => {
  const x = f32([1, 2, 3, 4]),
    y = zeros(4);
  assert.throws(() => nat.dropoutForward(x, y, 4, 2 ** 32, 0, 0, 1, 1.5), /dropoutForward.*seed 4294967296 does not fit 32 bits/);
  assert.throws(() => nat.dropoutForward(x, y, 4, 0, -1, 0, 1, 1.5), /dropoutForward.*site must be >= 0/);
  assert.throws(() => nat.dropoutForward(x, y, 4, 0, 0, 0, 2 ** 24 + 1, 1.5), /dropoutForward.*threshold 16777217 is above 2\^24/);
  assert.throws(() => nat.dropoutBackward(x, y, 4, 0, 0, 0, 1, 0.5, false), /dropoutBackward.*scale must be finite and >= 1/);
  assert.throws(() => nat.dropoutForward(x, y, 5, 0, 0, 0, 1, 1.5), /dropoutForward.*x needs/);
  assert.throws(() => nat.philoxBlocks(i32([0, 0, 0]), 1, 0, 0, 0, 0, 0, 0), /philoxBlocks.*out needs/);
  freeAll();
});
