// Multi-VAE on our engine: beats popularity on the synthetic test split, leaves the
// exclusion of known items to the evaluator, is deterministic under a seed, and
// rejects bad options and unfitted use with clear errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MultiVaeRecommender } from "../../src/baselines";
import { checkExclusionByEvaluator, popularityTestRecall20, syntheticSplit, tinySplit } from "./neural_helpers";

test("Multi-VAE beats popularity on Recall@20 of the synthetic test split", async () => {
  const split = await syntheticSplit();
  const pop = await popularityTestRecall20(split);
  const vae = new MultiVaeRecommender({ epochs: 40, evalEvery: 10, seed: 1 });
  await vae.fit(split);
  const recall = await checkExclusionByEvaluator(vae, split);
  assert.ok(recall > pop + 0.1, `Multi-VAE test Recall@20 ${recall.toFixed(4)} vs popularity ${pop.toFixed(4)}`);
  assert.ok(vae.bestEpoch >= 10 && vae.bestEpoch <= 40 && vae.bestEpoch % 10 === 0, `best epoch ${vae.bestEpoch}`);
  vae.dispose();
});

test("Multi-VAE is deterministic under a seed (init, dropout, eps, batch order)", async () => {
  const split = tinySplit(4);
  const run = async (seed: number) => {
    const vae = new MultiVaeRecommender({ hidden: 16, latent: 4, batchSize: 8, epochs: 3, evalEvery: 1, seed });
    await vae.fit(split);
    const s = vae.score([0, 5, 29]);
    vae.dispose();
    return s;
  };
  const a = await run(7),
    b = await run(7),
    c = await run(8);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test("Multi-VAE: bad options and unfitted use are clear errors", async () => {
  assert.throws(() => new MultiVaeRecommender({ dropout: 1 }), /MultiVaeRecommender: dropout must lie in \[0, 1\), got 1/);
  assert.throws(() => new MultiVaeRecommender({ epochs: 0 }), /epochs must be a positive integer, got 0/);
  assert.throws(() => new MultiVaeRecommender({ annealSteps: 1.5 }), /annealSteps must be a positive integer/);
  assert.throws(() => new MultiVaeRecommender().score([0]), /MultiVaeRecommender.score: call fit\(\) first/);
  const vae = new MultiVaeRecommender({ hidden: 4, latent: 2, epochs: 1 });
  await vae.fit(tinySplit(1));
  assert.throws(() => vae.score([30]), /MultiVaeRecommender.score: user 30 out of range \[0, 30\)/);
  vae.dispose();
});
