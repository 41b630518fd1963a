// MicroBatcher and Histogram on their own: batch limits, the bounded wait, all-or-nothing
// admission, errors reach every caller of the batch; quantiles against a naive count.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MicroBatcher, QueueFullError, Histogram } from "../../src/serve";

test("items submitted together run in batches of at most maxBatch, results in order", async () => {
  const calls: number[][] = [];
  const b = new MicroBatcher<number, number>(
    (xs) => {
      calls.push(xs);
      return xs.map((x) => x * 10);
    },
    { maxBatch: 4, maxWaitMs: 50, maxQueue: 100 },
  );
  const [r1, r2] = await Promise.all([b.submit([1, 2, 3]), b.submit([4, 5, 6, 7, 8, 9])]);
  assert.deepEqual(r1, [10, 20, 30]);
  assert.deepEqual(r2, [40, 50, 60, 70, 80, 90]);
  assert.deepEqual(calls, [[1, 2, 3, 4], [5, 6, 7, 8], [9]]);
  assert.equal(b.busy, false);
});

test("a lone item waits about maxWaitMs for company, a full batch goes at once", async () => {
  const b = new MicroBatcher<number, number>((xs) => xs, { maxBatch: 3, maxWaitMs: 120, maxQueue: 10 });
  let t0 = performance.now();
  await b.submit([1]);
  const lone = performance.now() - t0;
  assert.ok(lone >= 110, `lone item ran after ${lone.toFixed(0)} ms, before the 120 ms wait`);
  t0 = performance.now();
  await b.submit([1, 2, 3]);
  const full = performance.now() - t0;
  assert.ok(full < 100, `full batch waited ${full.toFixed(0)} ms`);
});

test("admission is all or nothing; a failing batch rejects each of its callers", async () => {
  const b = new MicroBatcher<number, number>(
    (xs) => {
      if (xs.includes(13)) throw new Error("unlucky");
      return xs;
    },
    { maxBatch: 8, maxWaitMs: 20, maxQueue: 3 },
  );
  const ok = b.submit([1, 2]);
  await assert.rejects(
    () => b.submit([3, 4]),
    (e: Error) => e instanceof QueueFullError && /2 item\(s\) waiting, limit 3; this request needs 2/.test(e.message),
  );
  assert.equal(b.queued, 2, "the refused request queued nothing");
  const third = b.submit([13]);
  await assert.rejects(() => third, /unlucky/);
  await assert.rejects(() => ok, /unlucky/);
  assert.deepEqual(await b.submit([5]), [5]);
  assert.throws(() => new MicroBatcher((xs) => xs, { maxBatch: 0, maxWaitMs: 1, maxQueue: 1 }), /maxBatch must be a positive integer/);
});

test("Histogram: bucket counts and quantiles agree with a naive count", () => {
  const bounds = [1, 2, 5, 10, 20];
  const h = new Histogram(bounds);
  const values = [0.5, 1, 1.5, 3, 3, 4, 7, 9, 15, 50, 0.2, 2];
  values.forEach((v) => {
    h.add(v);
  });
  const naive = [...bounds, Infinity].map((b, i) => values.filter((v) => v <= b && (i === 0 || v > bounds[i - 1])).length);
  assert.deepEqual(h.counts, naive);
  // the q-quantile's bucket: the first whose cumulative count reaches ceil(q n)
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of [0.1, 0.5, 0.9, 0.99]) {
    const v = sorted[Math.ceil(q * values.length) - 1];
    const bucketTop = bounds.find((b) => v <= b) ?? Math.max(...values);
    assert.equal(h.quantile(q), bucketTop, `q=${q}`);
  }
  assert.equal(h.count, values.length);
  assert.equal(h.max, 50);
});
