// CUDA runtime behaviour through the addon: bad input on device buffers is a clear
// Error, an impossible allocation is a clear out-of-memory Error the process survives,
// the caching allocator returns to its starting footprint, copies round-trip, uploads go
// through the pinned staging ring (asynchronous, the caller's array free at once).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { freeAll, gpuDevice, nat, onSimulator, skipCuda, skipDevice, twinF32, twinI32 } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

test("cuda bad input: extents, mixed devices and ids are rejected with named errors", { skip: skipCuda }, () => {
  const a = twinF32([1, 2, 3, 4, 5, 6]),
    b = twinF32([1, 2, 3, 4, 5, 6]),
    c = twinF32([0, 0, 0, 0]);
  // C needs 2x3 = 6 floats but has 4.
  assert.throws(
    () => nat().gemm(false, false, 2, 3, 3, 1, a.gpu, 0, 0, b.gpu, 0, 0, 0, c.gpu, 0, 0, 1, null),
    (e: Error) => /gemm/.test(e.message),
  );
  if (gpuDevice === 1)
    // a buffer on the CPU mixed with buffers on the GPU
    assert.throws(
      () => nat().add(a.gpu, 1, b.cpu, 1, a.gpu, 6, false),
      (e: Error) => /add/.test(e.message) && /cpu|cuda|device/.test(e.message),
    );
  const table = twinF32(new Float32Array(4 * 2)),
    out = twinF32(new Float32Array(3 * 2));
  const ids = twinI32([0, 9, 1]);
  assert.throws(
    () => nat().gatherRows(table.gpu, 4, 2, ids.gpu, 3, 0, out.gpu, true),
    (e: Error) => e instanceof RangeError && /gather/i.test(e.message),
  );
  nat().synchronize(); // the stream is still healthy afterwards
});

test("cuda out of memory: a 4 TiB allocation is a clear Error and the process survives", { skip: skipDevice }, () => {
  const numel = 2 ** 40; // 4 TiB of float32: the largest numel the addon accepts, far past any GPU
  assert.throws(
    () => nat().alloc(1, 0, numel),
    (e: Error) => /out of memory/i.test(e.message) && /4398046511104 bytes/.test(e.message),
  );
  const ok = nat().alloc(1, 0, 1024); // the device still works
  nat().upload(ok, new Float32Array(1024).fill(3));
  const back = new Float32Array(1024);
  nat().download(ok, back);
  assert.equal(back[1023], 3);
  nat().free(ok);
});

test("cuda allocator: 1000 alloc/free cycles return to the starting footprint", { skip: skipDevice }, () => {
  nat().synchronize();
  const start = nat().stats();
  const sizes = [1, 7, 33, 1023, 4096, 100003, 1 << 20];
  let maxCached = 0;
  for (let k = 0; k < 1000; k++) {
    const bufs = [nat().alloc(1, 0, sizes[k % sizes.length]), nat().alloc(1, 1, sizes[(k * 3) % sizes.length])];
    for (const bb of bufs) nat().free(bb);
    maxCached = Math.max(maxCached, nat().stats().cudaCachedBytes);
  }
  const end = nat().stats();
  assert.equal(end.cudaBytes, start.cudaBytes, "live CUDA bytes back to the start");
  assert.equal(end.liveBuffers, start.liveBuffers, "live buffer count back to the start");
  // The cache reuses blocks: it holds at most one block per bucket touched here (+25% rounding).
  const bound = start.cudaCachedBytes + 2 * 4 * sizes.reduce((s, n) => s + Math.max(n, 128) * 1.25, 0);
  assert.ok(maxCached <= bound, `cache grew to ${maxCached} bytes (bound ${bound})`);
  nat().emptyCache();
  assert.equal(nat().stats().cudaCachedBytes, 0, "emptyCache frees every cached block");
});

test("cuda copies: host -> device -> device -> host round trip, across devices", { skip: skipDevice }, () => {
  const n = 1000;
  const src = new Float32Array(n).map((_, i) => i * 0.5 - 7);
  const g1 = nat().alloc(1, 0, n),
    g2 = nat().alloc(1, 0, n + 10),
    h = nat().alloc(0, 0, n);
  nat().upload(g1, src);
  nat().copy(g2, 10, g1, 0, n); // device -> device at an offset
  nat().copy(h, 0, g2, 10, n); // device -> host buffer
  const back = new Float32Array(n);
  nat().download(h, back);
  assert.deepEqual(back, src);
  nat().copy(g1, 0, h, 0, n); // host buffer -> device
  nat().download(g1, back);
  assert.deepEqual(back, src);
  for (const bb of [g1, g2, h]) nat().free(bb);
});

test("cuda uploads: through the pinned ring, the source reusable at once, the ring lapped safely", {
  skip: skipDevice || (onSimulator ? false : "counts copies in the simulator's runtime (stats().cudaSim)"),
}, () => {
  // the simulator defers a pinned copy until the stream next works, so a ring region
  // rewritten before its copy ran would show up as wrong data here
  const sim = () => nat().stats().cudaSim!;
  const src = new Float32Array(1 << 20); // 4 MiB per upload; 20 of them lap the 64 MiB ring
  const bufs = Array.from({ length: 20 }, () => nat().alloc(1, 0, src.length));
  const before = sim();
  bufs.forEach((b, k) => {
    src.fill(k + 0.25);
    nat().upload(b, src); // the same array, rewritten at once: the upload copied it
  });
  const mid = sim();
  assert.equal(mid.h2dPinned - before.h2dPinned, 20, "every upload from pinned memory");
  assert.equal(mid.h2dPageable - before.h2dPageable, 0);
  assert.equal(mid.streamSyncs - before.streamSyncs, 0, "uploads never drain the stream");
  const back = new Float32Array(src.length);
  bufs.forEach((b, k) => {
    nat().download(b, back);
    assert.ok(
      back.every((v) => v === k + 0.25),
      `upload ${k}: got ${back[0]} .. ${back[back.length - 1]}`,
    );
  });
  assert.ok(mid.eventSyncs - before.eventSyncs >= 1, "lapping the ring waits for the oldest region's copy");
  // larger than the ring: one pageable copy (the driver stages it)
  const big = nat().alloc(1, 0, 17 << 20);
  nat().upload(big, new Float32Array(17 << 20).fill(3));
  assert.equal(sim().h2dPageable - mid.h2dPageable, 1);
  for (const b of [...bufs, big]) nat().free(b);
});

test("cuda device info: count and name", { skip: skipDevice }, () => {
  assert.ok(nat().cudaDeviceCount() >= 1);
  assert.ok(nat().cudaDeviceName().length > 0, "device name is reported");
});
