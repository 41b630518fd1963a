// Adam: the kernel against a hand-written float64 step; its halt flag; the non-finite guard
// (flag_nonfinite) against hand-picked values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose, f32, freeAll, i32, nat, read, rng, uniform, zeros } from "./helpers";

test("adam: matches a hand-written float64 step over three steps", () => {
  const rand = rng(6);
  const n = 33,
    lr = 1e-2,
    b1 = 0.9,
    b2 = 0.999,
    eps = 1e-8;
  const p0 = uniform(rand, n);
  const p = f32(p0),
    m = zeros(n),
    v = zeros(n);
  const wp = Float64Array.from(p0),
    wm = new Float64Array(n),
    wv = new Float64Array(n);
  for (let step = 1; step <= 3; step++) {
    const g = uniform(rand, n);
    nat.adam(p, f32(g), m, v, n, lr, b1, b2, eps, step, null, 0);
    for (let i = 0; i < n; i++) {
      wm[i] = b1 * wm[i] + (1 - b1) * g[i];
      wv[i] = b2 * wv[i] + (1 - b2) * g[i] * g[i];
      const mhat = wm[i] / (1 - b1 ** step),
        vhat = wv[i] / (1 - b2 ** step);
      wp[i] -= (lr * mhat) / (Math.sqrt(vhat) + eps);
    }
  }
  assertClose(read(p), wp, "adam p", 1e-6, 1e-5);
  assertClose(read(m), wm, "adam m", 1e-7, 1e-5);
  assertClose(read(v), wv, "adam v", 1e-9, 1e-4);
  freeAll();
});

const words = (b: ReturnType<typeof i32>) => {
  const out = new Int32Array(nat.numel(b));
  nat.download(b, out);
  return Array.from(out);
};

test("flag_nonfinite: records the first step with a NaN/Inf, never overwrites it, copies the bits", () => {
  const ring = i32([0, 0, 0, 0]); // [3 slots, flag]
  const bitsOf = (v: number) => new Int32Array(Float32Array.of(v).buffer)[0];
  nat.flagNonfinite(f32([1.5]), 1, 1, ring, 3, ring, 0);
  nat.flagNonfinite(f32([-0]), 1, 2, ring, 3, ring, 1);
  assert.deepEqual(words(ring), [bitsOf(1.5), bitsOf(-0), 0, 0], "finite values: bits copied, no flag");
  nat.flagNonfinite(f32([Number.NaN]), 1, 7, ring, 3, ring, 2);
  assert.equal(words(ring)[3], 7);
  nat.flagNonfinite(f32([Infinity]), 1, 9, ring, 3, ring, 0);
  assert.deepEqual(words(ring), [bitsOf(Infinity), bitsOf(-0), words(ring)[2], 7], "a later bad step keeps the first");
  assert.ok(Number.isNaN(new Float32Array(Int32Array.of(words(ring)[2]).buffer)[0]), "the NaN's bits are kept");
  // gradients: no bits, any length (the parallel path), a single bad element anywhere
  const n = (1 << 16) + 3;
  for (const [at, bad] of [
    [0, -Infinity],
    [n - 1, Number.NaN],
    [40000, Infinity],
  ] as const) {
    const x = new Float32Array(n).fill(3.25);
    x[at] = bad;
    const flag = i32([0]);
    nat.flagNonfinite(f32(x), n, 5, flag, 0, null, 0);
    assert.deepEqual(words(flag), [5], `${bad} at ${at}`);
  }
  const flag = i32([0]);
  nat.flagNonfinite(f32(new Float32Array(n).fill(3.4e38)), n, 5, flag, 0, null, 0);
  assert.deepEqual(words(flag), [0], "large finite values are not flagged");
  freeAll();
});

test("flag_nonfinite and adam reject bad arguments by name", () => {
  const ring = i32([0, 0]);
  assert.throws(() => nat.flagNonfinite(f32([1]), 1, 0, ring, 1, ring, 0), /flagNonfinite: step must be >= 1/);
  assert.throws(() => nat.flagNonfinite(f32([1]), 1, 2 ** 31, ring, 1, ring, 0), /step must fit in int32/);
  assert.throws(() => nat.flagNonfinite(f32([1]), 1, 1, ring, 2, ring, 0), /flagNonfinite: flag needs/);
  assert.throws(() => nat.flagNonfinite(f32([1, 2]), 2, 1, ring, 1, ring, 0), /flagNonfinite: bits and flag overlap/);
  assert.throws(() => nat.flagNonfinite(f32([1]), 1, 1, f32([0]), 0, null, 0), /flagNonfinite: flag must be int32/);
  assert.throws(() => nat.adam(f32([1]), f32([1]), f32([0]), f32([0]), 1, 1e-3, 0.9, 0.999, 1e-8, 1, ring, 2), /adam: halt needs/);
  freeAll();
});

test("adam with a halt flag: 0 updates as without one (bit for bit), non-zero leaves p, m and v untouched", () => {
  const rand = rng(8);
  const n = 40;
  const p0 = uniform(rand, n),
    g = uniform(rand, n);
  const run = (halt: number | null) => {
    const p = f32(p0),
      m = f32(new Float32Array(n).fill(0.01)),
      v = f32(new Float32Array(n).fill(0.02));
    nat.adam(p, f32(g), m, v, n, 1e-2, 0.9, 0.999, 1e-8, 3, halt === null ? null : i32([5, halt]), halt === null ? 0 : 1);
    return [read(p), read(m), read(v)].map((a) => Array.from(a));
  };
  const plain = run(null);
  assert.deepEqual(run(0), plain);
  assert.notDeepEqual(plain[0], Array.from(p0), "the plain step moved p");
  assert.deepEqual(run(4), [Array.from(p0), new Array(n).fill(Math.fround(0.01)), new Array(n).fill(Math.fround(0.02))]);
  freeAll();
});
