// Bad input becomes a JS error naming the op (never a crash); buffer lifetime and stats.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { f32, freeAll, i32, nat, zeros } from "./helpers";

function throwsNaming(fn: () => unknown, op: string, kind: ErrorConstructor, pattern?: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${e.constructor.name}: ${e.message}`);
    assert.ok(e.message.startsWith(`${op}:`), `message should name ${op}: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test("wrong dtype is a TypeError naming the op and the argument", () => {
  const x = f32([1, 2, 3]),
    y = zeros(3);
  throwsNaming(() => nat.geluForward(i32([1, 2, 3]), y, 3), "geluForward", TypeError, /x must be float32/);
  throwsNaming(() => nat.gatherRows(x, 1, 3, f32([0]), 1, 0, y, false), "gatherRows", TypeError, /ids must be int32/);
  throwsNaming(() => nat.upload(x, new Int32Array(3)), "upload", TypeError, /Float32Array/);
  freeAll();
});

test("wrong argument types and counts are TypeErrors naming the op", () => {
  const x = f32([1, 2, 3]),
    y = zeros(3);
  const anyNat = nat as unknown as Record<string, (...a: unknown[]) => unknown>;
  throwsNaming(() => anyNat.geluForward(x, y, "3"), "geluForward", TypeError, /n must be a number/);
  throwsNaming(() => anyNat.geluForward(x, y, 1.5), "geluForward", TypeError, /integer/);
  throwsNaming(() => anyNat.geluForward(x, y), "geluForward", TypeError, /expected 3 arguments/);
  throwsNaming(() => anyNat.geluForward({}, y, 3), "geluForward", TypeError, /native buffer/);
  throwsNaming(() => anyNat.geluBackward(x, y, y, 3, 1), "geluBackward", TypeError, /boolean/);
  throwsNaming(() => anyNat.free(42), "free", TypeError);
  throwsNaming(() => nat.geluForward(x, y, -1), "geluForward", Error, /n must be >= 0/);
  freeAll();
});

test("a freed buffer is refused; free is idempotent", () => {
  const x = nat.alloc(0, 0, 4),
    y = zeros(4);
  nat.free(x);
  nat.free(x);
  assert.equal(nat.isFreed(x), true);
  throwsNaming(() => nat.geluForward(x, y, 4), "geluForward", Error, /already freed/);
  throwsNaming(() => nat.download(x, new Float32Array(4)), "download", Error, /already freed/);
  freeAll();
});

test("extents: any access past a buffer's end is an Error naming op, buffer and shapes", () => {
  const A = zeros(6),
    B = zeros(6),
    C = zeros(4);
  throwsNaming(
    () => nat.gemm(false, false, 2, 2, 4, 1, A, 0, 0, B, 0, 0, 0, C, 0, 0, 1, null),
    "gemm",
    Error,
    /A needs elements \[0, 8\).*M=2, N=2, K=4/,
  );
  throwsNaming(() => nat.gemm(false, false, 2, 2, 3, 1, A, 1, 0, B, 0, 0, 0, C, 0, 0, 1, null), "gemm", Error, /A needs/);
  throwsNaming(() => nat.gemm(false, false, 2, 2, 3, 1, A, 0, 6, B, 0, 0, 0, C, 0, 4, 2, null), "gemm", Error, /A needs/);
  throwsNaming(() => nat.gemm(false, false, 2, 2, 3, 1, A, 0, 0, B, 0, 0, 0, C, 0, 0, 2, null), "gemm", Error, /strideC/);
  throwsNaming(() => nat.gemm(false, false, 2, 2, 3, 1, A, 0, 0, B, 0, 0, 0, C, 0, 0, 1, zeros(1)), "gemm", Error, /bias/);
  throwsNaming(() => nat.gemm(false, false, 2, 2, 1, 1, A, 0, 0, B, 0, 0, 0, A, 1, 0, 1, null), "gemm", Error, /overlap/);
  const q = zeros(2 * 3 * 8),
    kv = zeros(2 * 5 * 16),
    out = zeros(2 * 3 * 8),
    lse = zeros(2 * 2 * 3);
  nat.attentionForward(q, 0, 8, kv, 0, 8, 16, null, out, lse, 2, 2, 3, 5, 4, 0, 0, 0, 0, 1, 0);
  throwsNaming(
    () => nat.attentionForward(q, 0, 8, kv, 0, 9, 16, null, out, lse, 2, 2, 3, 5, 4, 0, 0, 0, 0, 1, 0),
    "attentionForward",
    Error,
    /v needs/,
  );
  throwsNaming(
    () => nat.attentionForward(q, 0, 8, kv, 0, 8, 16, i32([1, 1]), out, lse, 2, 2, 3, 5, 4, 0, 0, 0, 0, 1, 0),
    "attentionForward",
    Error,
    /keyMask needs/,
  );
  throwsNaming(
    () => nat.attentionForward(q, 0, 8, kv, 0, 8, 16, null, out, lse, 2, 2, 6, 5, 4, 0, 0, 0, 0, 1, 0),
    "attentionForward",
    Error,
    /Tk must be >= Tq/,
  );
  throwsNaming(
    () => nat.copyStrided(zeros(10), 0, 5, 5, zeros(10), 0, 5, 0, 2, 2, 5, false),
    "copyStrided",
    Error,
    /dst needs elements \[0, 15\)/,
  );
  throwsNaming(() => nat.copy(zeros(4), 2, zeros(4), 0, 3), "copy", Error, /dst needs/);
  throwsNaming(
    () => nat.layernormForward(zeros(6), zeros(3), zeros(2), zeros(6), zeros(2), zeros(2), 2, 3, 1e-5),
    "layernormForward",
    Error,
    /beta needs/,
  );
  freeAll();
});

test("CUDA buffers are refused clearly without a GPU", { skip: nat.cudaDeviceCount() > 0 ? "a GPU answers" : false }, () => {
  if (!nat.hasCuda) assert.equal(nat.cudaDeviceCount(), 0);
  throwsNaming(() => nat.alloc(1, 0, 4), "alloc", Error, /CUDA is not available/);
});

test("alloc zero-fills; upload/download round trip; copy with offsets; metadata", () => {
  const b = nat.alloc(0, 1, 5);
  const got = new Int32Array(5).fill(7);
  nat.download(b, got);
  assert.deepEqual(Array.from(got), [0, 0, 0, 0, 0]);
  nat.upload(b, Int32Array.from([1, 2, 3, 4, 5]));
  const c = nat.alloc(0, 1, 5);
  nat.copy(c, 1, b, 2, 3);
  nat.download(c, got);
  assert.deepEqual(Array.from(got), [0, 3, 4, 5, 0]);
  assert.equal(nat.numel(c), 5);
  assert.equal(nat.deviceOf(c), 0);
  assert.equal(nat.dtypeOf(c), 1);
  throwsNaming(() => nat.copy(f32([1]), 0, c, 0, 1), "copy", TypeError, /float32.*int32/);
  throwsNaming(() => nat.download(c, new Int32Array(4)), "download", Error, /length/);
  nat.free(b);
  nat.free(c);
  freeAll();
});

test("alloc/free loop: cpuBytes and liveBuffers return to where they started; launches counted", () => {
  const start = nat.stats();
  for (let i = 0; i < 1000; i++) {
    const a = nat.alloc(0, 0, 1 + (i % 97) * 1000);
    nat.fill(a, 1, nat.numel(a));
    nat.free(a);
  }
  const end = nat.stats();
  assert.equal(end.cpuBytes, start.cpuBytes);
  assert.equal(end.liveBuffers, start.liveBuffers);
  const a = nat.alloc(0, 0, 10);
  assert.equal(nat.stats().cpuBytes, start.cpuBytes + 40);
  nat.resetStats();
  nat.fill(a, 2, 10);
  nat.fill(a, 3, 10);
  nat.sum(a, 10, a);
  assert.deepEqual(nat.stats().launches, { fill: 2, sum: 1 });
  nat.free(a);
  assert.equal(nat.stats().cudaCachedBytes, nat.hasCuda ? nat.stats().cudaCachedBytes : 0);
});

test("thread count can be set and read", () => {
  const before = nat.numThreads();
  nat.setNumThreads(1);
  assert.equal(nat.numThreads(), 1);
  nat.setNumThreads(before);
  assert.equal(nat.numThreads(), before);
});

test("the External finalizer frees a buffer that was never freed (backstop only)", () => {
  // A child with --expose-gc: allocate, drop every reference, collect, and look at stats.
  const script = `
    const { native } = require(${JSON.stringify(require.resolve("../../src/engine/native"))});
    const nat = native();
    const start = nat.stats();
    (() => { for (let i = 0; i < 200; i++) nat.alloc(0, 0, 1000); })();
    const during = nat.stats().liveBuffers - start.liveBuffers;
    const settle = (n) => { global.gc(); if (n > 0) setImmediate(() => settle(n - 1)); else report(); };
    const report = () => {
      const end = nat.stats();
      console.log(JSON.stringify({ during, live: end.liveBuffers - start.liveBuffers, bytes: end.cpuBytes - start.cpuBytes }));
    };
    settle(5);`;
  const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
  const r = spawnSync(process.execPath, ["--expose-gc", "-e", script], { env, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout.trim().split("\n").pop() as string);
  assert.equal(got.during, 200);
  assert.equal(got.live, 0, `finalizers left ${got.live} buffers live`);
  assert.equal(got.bytes, 0);
});

test("elementwise and reduce kernels count launches and reject bad arguments naming the op", () => {
  const x = f32([1, 2, 3]),
    y = zeros(3),
    s = zeros(2);
  nat.resetStats();
  nat.mul(x, x, y, 3, false);
  nat.tanhForward(x, y, 3);
  nat.tanhBackward(y, x, y, 3, true);
  nat.expForward(x, 1, y, 3);
  nat.expBackward(y, x, 1, y, 3, true);
  nat.logSigmoidForward(x, y, 3);
  nat.logSigmoidBackward(x, x, y, 3, true);
  nat.rowSumForward(x, 1, 3, s, false);
  nat.rowSumBackward(s, 1, 3, y, false);
  const l = nat.stats().launches;
  for (const k of [
    "mul",
    "tanhForward",
    "tanhBackward",
    "expForward",
    "expBackward",
    "logSigmoidForward",
    "logSigmoidBackward",
    "rowSumForward",
    "rowSumBackward",
  ])
    assert.equal(l[k], 1, `${k} launches`);
  const naming = (op: string, re: RegExp) => (e: Error) => e.message.startsWith(`${op}:`) && re.test(e.message);
  assert.throws(() => nat.mul(x, x, y, 4, false), naming("mul", /n=4/));
  assert.throws(() => nat.tanhForward(x, s, 3), naming("tanhForward", /y/));
  assert.throws(() => nat.logSigmoidBackward(x, x, s, 3, false), naming("logSigmoidBackward", /dx/));
  assert.throws(() => nat.expForward(x, 1, y, -1), naming("expForward", /n must be >= 0/));
  assert.throws(() => nat.rowSumForward(x, 2, 2, s, false), naming("rowSumForward", /R=2.*C=2|X/));
  assert.throws(() => nat.rowSumForward(x, 1, 2, x, false), naming("rowSumForward", /overlap|out/));
  assert.throws(() => nat.rowSumBackward(s, 2, 2, y, false), naming("rowSumBackward", /dX/));
  const anyNat = nat as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.throws(
    () => anyNat.tanhBackward(y, x, y, 3, 1),
    (e: Error) => e instanceof TypeError && e.message.startsWith("tanhBackward:"),
  );
  freeAll();
});
