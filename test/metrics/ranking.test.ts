import { test } from "node:test";
import assert from "node:assert/strict";
import { ndcgAtK, recallAtK } from "../../src/shared/metrics";

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-12, `${msg ?? ""} ${a} vs ${b}`);
const g = (rank: number) => 1 / Math.log2(rank + 1); // gain at 1-based rank

test("recallAtK: hits in top-K over min(K, |held out|)", () => {
  const ranked = [3, 7, 1, 9];
  close(recallAtK(ranked, [7, 9, 4], 1), 0 / 1);
  close(recallAtK(ranked, [7, 9, 4], 2), 1 / 2);
  close(recallAtK(ranked, [7, 9, 4], 4), 2 / 3);
  // Fewer held-out items than K: the denominator is |held out|.
  close(recallAtK(ranked, [9], 20), 1);
  close(recallAtK(ranked, new Set([9, 5]), 20), 1 / 2);
});

test("ndcgAtK: DCG over IDCG with min(K, |held out|) ideal hits, gains 1/log2(rank+1)", () => {
  const ranked = [3, 7, 1, 9];
  close(ndcgAtK(ranked, [7, 9, 4], 2), g(2) / (g(1) + g(2)));
  close(ndcgAtK(ranked, [7, 9, 4], 4), (g(2) + g(4)) / (g(1) + g(2) + g(3)));
  close(ndcgAtK(ranked, [7, 9, 4], 4), (1 / Math.log2(3) + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3) + 0.5));
  close(ndcgAtK(ranked, [9], 100), g(4));
  close(ndcgAtK(ranked, [3], 1), 1);
  close(ndcgAtK(ranked, [2], 4), 0);
});

test("ranking metrics: ranked list shorter than K (few eligible items)", () => {
  close(recallAtK([5, 6], [6, 8, 9], 10), 1 / 3);
  close(ndcgAtK([5, 6], [6, 8, 9], 10), g(2) / (g(1) + g(2) + g(3)));
});

test("ranking metrics: empty held-out set and bad K are errors", () => {
  assert.throws(() => recallAtK([1, 2], [], 5), /recallAtK: held-out set is empty/);
  assert.throws(() => ndcgAtK([1, 2], new Set(), 5), /ndcgAtK: held-out set is empty/);
  assert.throws(() => recallAtK([1, 2], [1], 0), /recallAtK: k must be a positive integer, got 0/);
});
