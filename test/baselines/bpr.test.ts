// BPR-MF on our engine: beats popularity on the synthetic test split, leaves the
// exclusion of known items to the evaluator, is deterministic under a seed, and
// rejects bad options and unfitted use with clear errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BprRecommender } from "../../src/baselines";
import { checkExclusionByEvaluator, popularityTestRecall20, syntheticSplit, tinySplit } from "./neural_helpers";

test("BPR-MF beats popularity on Recall@20 of the synthetic test split", async () => {
  const split = await syntheticSplit();
  const pop = await popularityTestRecall20(split);
  // 256 triples per update: [256, 64] kernels stay under the CPU kernels' OpenMP grain,
  // which keeps this test fast on a small shared machine (same lr, more updates).
  const bpr = new BprRecommender({ epochs: 60, batchSize: 256, evalEvery: 10, seed: 1 });
  await bpr.fit(split);
  const recall = await checkExclusionByEvaluator(bpr, split);
  assert.ok(recall > pop + 0.1, `BPR-MF test Recall@20 ${recall.toFixed(4)} vs popularity ${pop.toFixed(4)}`);
  bpr.dispose();
});

test("BPR-MF is deterministic under a seed (init, pair order, negatives)", async () => {
  const split = tinySplit(5);
  const run = async (seed: number) => {
    const bpr = new BprRecommender({ dim: 8, batchSize: 16, epochs: 3, evalEvery: 1, seed });
    await bpr.fit(split);
    const s = bpr.score([0, 3, 29]);
    bpr.dispose();
    return s;
  };
  const a = await run(3),
    b = await run(3),
    c = await run(4);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test("BPR-MF: bad options and unfitted use are clear errors", async () => {
  assert.throws(() => new BprRecommender({ dim: 0 }), /BprRecommender: dim must be a positive integer, got 0/);
  assert.throws(() => new BprRecommender({ lambda: -1 }), /need lambda >= 0/);
  assert.throws(() => new BprRecommender().score([0]), /BprRecommender.score: call fit\(\) first/);
  const bpr = new BprRecommender({ dim: 4, epochs: 1 });
  await bpr.fit(tinySplit(2));
  assert.throws(() => bpr.score([-1]), /BprRecommender.score: user -1 out of range \[0, 30\)/);
  bpr.dispose();
});
