import { test } from "node:test";
import assert from "node:assert/strict";
import { PopularityRecommender, type Split } from "../../src/baselines";
import { evaluateRanking } from "../../src/shared/metrics";

// Train counts: item 2 -> 3, item 0 -> 2, item 3 -> 1, item 1 -> 0.
const split: Split = {
  numUsers: 4,
  numItems: 4,
  train: [[2, 0], [2, 3], [2], [0]],
  val: [[], [0], [], [1]],
  test: [[3], [1], [0], [3]],
};

test("Popularity: scores are training counts, identical for every user", async () => {
  const pop = new PopularityRecommender();
  await pop.fit(split);
  assert.deepEqual(Array.from(pop.itemCounts()), [2, 0, 3, 1]);
  assert.deepEqual(Array.from(pop.score([1, 3])), [2, 0, 3, 1, 2, 0, 3, 1]);
  await pop.fit(split, { includeVal: true });
  assert.deepEqual(Array.from(pop.itemCounts()), [3, 1, 3, 1]);
});

test("Popularity: ranks by count and never ranks known items (through the evaluator)", async () => {
  const pop = new PopularityRecommender();
  await pop.fit(split);
  const res = await evaluateRanking((u) => pop.score(u), split, "test", { recallKs: [1, 2], ndcgKs: [2], testExclude: "train+val" });
  // Global order 2, 0, 3, 1. After excluding train + val:
  // u0 -> [3, 1]: hit@1; u1 -> [1]: hit@1; u2 -> [0, 3, 1]: hit@1; u3 -> [2, 3]: hit@2.
  assert.equal(res.users, 4);
  assert.equal(res.recall[1], 3 / 4);
  assert.equal(res.recall[2], 1);
  assert.ok(Math.abs(res.ndcg[2] - (3 + 1 / Math.log2(3)) / 4) < 1e-12);
});

test("Popularity: unfitted use and bad users are clear errors", async () => {
  assert.throws(() => new PopularityRecommender().score([0]), /PopularityRecommender.score: call fit\(\) first/);
  const pop = new PopularityRecommender();
  await pop.fit(split);
  assert.throws(() => pop.score([4]), /PopularityRecommender.score: user 4 out of range \[0, 4\)/);
});
