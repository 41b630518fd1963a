// The host block cache: freed CPU buffers are reused by later allocations of that size
// class, a reused block is zeroed like a fresh one, and emptyCache() returns them all.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { nat } from "./helpers";

test("a reused host block comes back zeroed, and emptyCache frees the cache", () => {
  nat.emptyCache();
  assert.equal(nat.stats().cpuCachedBytes, 0);
  const n = 300_000; // 1.2 MB: above malloc's mmap threshold, where the cache saves page faults
  const a = nat.alloc(0, 0, n);
  nat.upload(a, new Float32Array(n).fill(7));
  nat.free(a);
  const cached = nat.stats().cpuCachedBytes;
  assert.ok(cached >= n * 4 && cached <= n * 4 * 1.125, `cached ${cached} bytes for a ${n * 4}-byte block`);
  const b = nat.alloc(0, 0, n - 1000); // same size class: served from the cache
  assert.equal(nat.stats().cpuCachedBytes, 0, "the cached block was taken");
  const back = new Float32Array(n - 1000);
  nat.download(b, back);
  assert.ok(
    back.every((v) => v === 0),
    "a reused block is zero-filled",
  );
  nat.free(b);
  nat.emptyCache();
  assert.equal(nat.stats().cpuCachedBytes, 0);
});

test("CLLM4REC_HOST_CACHE_MB=0 turns the cache off", () => {
  const script =
    `const a=require(${JSON.stringify(require.resolve("../../src/engine/native"))}).native();` +
    "const b=a.alloc(0,0,300000);a.free(b);process.stdout.write(String(a.stats().cpuCachedBytes));";
  const r = spawnSync(process.execPath, ["-e", script], { env: { ...process.env, CLLM4REC_HOST_CACHE_MB: "0" }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "0");
});

test("RSS stays flat when freed activation-sized blocks go back to malloc (no heap fragmentation)", () => {
  // a forward+backward's worth of blocks (7-32 MB, 12 layers), freed out of order, six times, with
  // the cache off so every free reaches malloc: glibc's adaptive mmap threshold once let RSS grow by
  // the whole working set per step (1.0 -> 2.4 GB here) although every buffer was freed
  const script = `
    const n = require(${JSON.stringify(require.resolve("../../src/engine/native"))}).native();
    const sizes = [];
    for (let l = 0; l < 12; l++) sizes.push(2560 * 768, 2560 * 2304, 2560 * 3072, 20 * 12 * 128 * 128, 2560 * 768 + 64 * l);
    const rss = () => process.memoryUsage().rss / 2 ** 20;
    let first = 0;
    for (let step = 0; step < 6; step++) {
      const bufs = sizes.map((s) => { const b = n.alloc(0, 0, s); n.fill(b, 1, s); return b; });
      for (let i = bufs.length - 1; i >= 0; i -= 2) n.free(bufs[i]);
      for (let i = bufs.length - 2; i >= 0; i -= 2) n.free(bufs[i]);
      if (step === 1) first = rss();
    }
    process.stdout.write(JSON.stringify({ first, last: rss(), live: n.stats().liveBuffers }));`;
  const r = spawnSync(process.execPath, ["-e", script], { env: { ...process.env, CLLM4REC_HOST_CACHE_MB: "0" }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const { first, last, live } = JSON.parse(r.stdout) as { first: number; last: number; live: number };
  assert.equal(live, 0);
  assert.ok(
    last - first < 64,
    `RSS grew ${(last - first).toFixed(0)} MB over four steps that freed everything (${first.toFixed(0)} -> ${last.toFixed(0)} MB)`,
  );
});
