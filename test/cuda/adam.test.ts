// CUDA Adam against the CPU kernel over several steps, its halt flag, and the non-finite
// guard (flag_nonfinite) against its CPU twin. Skipped without a GPU.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import {
  both,
  download,
  expectClose,
  expectIdentical,
  freeAll,
  nat,
  rng,
  skipCuda,
  twinF32,
  twinFill,
  twinI32,
  uniform,
  TOL_ELEMENTWISE,
} from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

const sizes = [1, 7, 33, 1023, 70001];

test("cuda adam: several steps", { skip: skipCuda }, () => {
  const rand = rng(6);
  for (const n of sizes) {
    const p = twinF32(uniform(rand, n)),
      m = twinFill(n, 0),
      v = twinFill(n, 0);
    for (let step = 1; step <= 3; step++) {
      const g = twinF32(uniform(rand, n));
      both((x) => nat().adam(x(p), x(g), x(m), x(v), n, 1e-3, 0.9, 0.999, 1e-8, step, null, 0));
    }
    expectClose(p, `adam p n=${n}`, TOL_ELEMENTWISE);
    expectClose(m, `adam m n=${n}`, TOL_ELEMENTWISE);
    expectClose(v, `adam v n=${n}`, TOL_ELEMENTWISE);
  }
});

test("cuda flag_nonfinite: the CPU's flag and bits, the first bad step kept, many blocks", { skip: skipCuda }, () => {
  const ring = twinI32([0, 0, 0, 0, 0]); // 4 slots and the flag
  const losses = [2.5, Number.NaN, 1, Infinity];
  losses.forEach((v, i) => {
    both((x) => nat().flagNonfinite(x(twinF32([v])), 1, i + 3, x(ring), 4, x(ring), i));
  });
  expectIdentical(ring, "loss ring");
  assert.equal(download(ring.gpu)[4], 4, "the first bad step (3 + 1)");
  for (const n of [1, 1023, 70001]) {
    for (const at of [0, n >> 1, n - 1]) {
      const x = uniform(rng(n + at), n);
      x[at] = at % 2 ? Number.NaN : -Infinity;
      const flag = twinI32([0]);
      both((b) => nat().flagNonfinite(b(twinF32(x)), n, 11, b(flag), 0, null, 0));
      expectIdentical(flag, `flag n=${n} bad at ${at}`);
      assert.equal(download(flag.gpu)[0], 11);
    }
    const clean = twinI32([0]);
    both((b) => nat().flagNonfinite(b(twinF32(uniform(rng(n), n))), n, 11, b(clean), 0, null, 0));
    assert.equal(download(clean.gpu)[0], 0, `finite n=${n}`);
  }
});

test("cuda adam: a set halt flag (read on the device) leaves p, m and v as they were", { skip: skipCuda }, () => {
  const rand = rng(9);
  const n = 70001;
  const p = twinF32(uniform(rand, n)),
    m = twinFill(n, 0.01),
    v = twinFill(n, 0.02);
  const p0 = download(p.gpu);
  const halt = twinI32([0, 0]);
  const g = twinF32(uniform(rand, n));
  both((x) => nat().flagNonfinite(x(twinF32([Number.NaN])), 1, 2, x(halt), 1, null, 0)); // sets halt[1] on the device
  both((x) => nat().adam(x(p), x(g), x(m), x(v), n, 1e-3, 0.9, 0.999, 1e-8, 1, x(halt), 1));
  expectIdentical(p, "p after a halted step");
  const after = download(p.gpu);
  for (let i = 0; i < n; i++) if (!Object.is(after[i], p0[i])) assert.fail(`p[${i}] moved: ${p0[i]} -> ${after[i]}`);
  for (const [t, want] of [
    [m, 0.01],
    [v, 0.02],
  ] as const)
    assert.ok(download(t.gpu).every((e) => e === Math.fround(want)));
  // halt 0: the update runs, as without a flag
  const clear = twinI32([0]);
  both((x) => nat().adam(x(p), x(g), x(m), x(v), n, 1e-3, 0.9, 0.999, 1e-8, 1, x(clear), 0));
  expectClose(p, "p after an unhalted step", TOL_ELEMENTWISE);
  assert.ok(
    download(p.gpu).some((e, i) => e !== p0[i]),
    "the unhalted step moved p",
  );
});
