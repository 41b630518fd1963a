import { test } from "node:test";
import * as assert from "node:assert/strict";
import { Rng } from "../../src/shared/rng";

test("Rng: same seed same stream, different seed different stream", () => {
  const a = new Rng(7);
  const b = new Rng(7);
  const c = new Rng(8);
  const sa = Array.from({ length: 20 }, () => a.nextUint32());
  const sb = Array.from({ length: 20 }, () => b.nextUint32());
  const sc = Array.from({ length: 20 }, () => c.nextUint32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test("Rng.float and int stay in range and are roughly uniform", () => {
  const r = new Rng(1);
  const counts = new Array(10).fill(0);
  for (let k = 0; k < 100_000; k++) {
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
    counts[r.int(10)]++;
  }
  // Each bucket expects 10,000; 5 standard deviations is about ±475.
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `bucket count ${c}`);
  assert.throws(() => r.int(0), /Rng.int/);
});

test("Rng.shuffle is a permutation; sample draws distinct elements", () => {
  const r = new Rng(3);
  const a = Array.from({ length: 50 }, (_, i) => i);
  const s = r.shuffle(a.slice());
  assert.deepEqual(
    [...s].sort((x, y) => x - y),
    a,
  );
  assert.notDeepEqual(s, a);
  const picked = r.sample(a, 10);
  assert.equal(new Set(picked).size, 10);
  for (const p of picked) assert.ok(a.includes(p));
  assert.deepEqual(r.sample(5, 5).sort(), [0, 1, 2, 3, 4]);
  assert.throws(() => r.sample(3, 4), /Rng.sample/);
});

test("Rng.normal has mean ~0 and variance ~1", () => {
  const r = new Rng(11);
  let s = 0;
  let s2 = 0;
  const n = 50_000;
  for (let k = 0; k < n; k++) {
    const z = r.normal();
    s += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s / n) < 0.03);
  assert.ok(Math.abs(s2 / n - 1) < 0.05);
});

test("Rng.weighted follows the weights", () => {
  const r = new Rng(5);
  const counts = [0, 0, 0];
  for (let k = 0; k < 30_000; k++) counts[r.weighted([1, 0, 2])]++;
  assert.equal(counts[1], 0);
  assert.ok(Math.abs(counts[2] / counts[0] - 2) < 0.15);
});
