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
