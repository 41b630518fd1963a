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

test("the cache never holds the process above 1/16 over its most-ever-live bytes; reuse is not a miss", () => {
  // in its own process, so the high-water mark is this test's alone
  const script = `
    const n = require(${JSON.stringify(require.resolve("../../src/engine/native"))}).native();
    const MB = 2 ** 20, out = {};
    const phase = (count, floats) => { const b = []; for (let i = 0; i < count; i++) b.push(n.alloc(0, 0, floats)); return b; };
    const m0 = n.stats().cpuCacheMisses;
    phase(8, 2 * MB).forEach((b) => n.free(b)); // 8 x 8 MiB live at once, then all cached
    out.cachedA = n.stats().cpuCachedBytes;
    const m1 = n.stats().cpuCacheMisses;
    phase(8, 2 * MB).forEach((b) => n.free(b)); // the same again: all served from the cache
    out.missesA = n.stats().cpuCacheMisses - m1;
    const other = phase(6, 3 * MB); // another size class, 72 MiB live: evicts the 64 MiB of A
    const s = n.stats();
    out.liveB = s.cpuBytes; out.cachedB = s.cpuCachedBytes; out.missesB = s.cpuCacheMisses - m1; out.first = m1 - m0;
    other.forEach((b) => n.free(b));
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ["-e", script], { env: { ...process.env, CLLM4REC_HOST_CACHE_MB: "" }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout) as Record<string, number>;
  const MiB = 2 ** 20;
  assert.equal(o.first, 8, "the first phase came from malloc");
  assert.equal(o.cachedA, 64 * MiB, "its blocks were all cached");
  assert.equal(o.missesA, 0, "a repeat of the same sizes is served from the cache");
  assert.equal(o.missesB, 6, "another size class misses");
  assert.equal(o.liveB, 72 * MiB);
  // most ever live: 72 MiB, so live + cached <= 72 * 17/16 = 76.5 MiB: at most one 8 MiB block of A stays
  assert.ok(o.liveB + o.cachedB <= (72 * MiB * 17) / 16, `live ${o.liveB / MiB} MiB + cached ${o.cachedB / MiB} MiB`);
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
