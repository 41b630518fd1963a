// Shared checks for the neural baseline tests (Multi-VAE, BPR) on the synthetic data.
import assert from "node:assert/strict";
import { loadDataset } from "../../src/cllm4rec/data";
import { evaluateRanking } from "../../src/shared/metrics";
import { PopularityRecommender, type Recommender, type Split } from "../../src/baselines";
import { lcg, naiveRecall } from "./naive";

export async function syntheticSplit(): Promise<Split> {
  return loadDataset({ kind: "synthetic", numUsers: 300, numItems: 150, seed: 1 });
}

export async function popularityTestRecall20(split: Split): Promise<number> {
  const pop = new PopularityRecommender();
  await pop.fit(split);
  return (await evaluateRanking((u) => pop.score(u), split, "test", { testExclude: "train+val" })).recall[20];
}

/**
 * score() returns raw scores (finite everywhere, training items included) and the
 * evaluator's result equals a naive full sort that excludes train + val; leaving the
 * known items in would change it, so exclusion is the evaluator's job, not score()'s.
 */
export async function checkExclusionByEvaluator(rec: Recommender, split: Split): Promise<number> {
  const users = Array.from({ length: split.numUsers }, (_, u) => u);
  const flat = await rec.score(users);
  assert.equal(flat.length, split.numUsers * split.numItems);
  assert.ok(flat.every(Number.isFinite), "score() must not mask items (no -Infinity / NaN)");
  const J = split.numItems;
  const rows = users.map((u) => Array.from(flat.subarray(u * J, (u + 1) * J)));
  const known = split.train.map((t, u) => t.concat(split.val[u]));
  const res = await evaluateRanking((u) => rec.score(u), split, "test", {
    recallKs: [20],
    ndcgKs: [100],
    batchSize: 64,
    testExclude: "train+val",
  });
  assert.ok(Math.abs(res.recall[20] - naiveRecall(rows, known, split.test, 20)) < 1e-9);
  const unmasked = naiveRecall(
    rows,
    split.test.map(() => []),
    split.test,
    20,
  );
  assert.ok(unmasked < res.recall[20], `known items rank high in raw scores: ${unmasked} < ${res.recall[20]}`);
  return res.recall[20];
}

/** A small random split for determinism checks. */
export function tinySplit(seed: number): Split {
  const rnd = lcg(seed);
  const U = 30,
    J = 20;
  const train: number[][] = [],
    val: number[][] = [],
    test: number[][] = [];
  for (let u = 0; u < U; u++) {
    const items = Array.from({ length: J }, (_, j) => j).filter(() => rnd() < 0.3);
    train.push(items.filter((_, t) => t % 4 !== 3));
    val.push(items.filter((_, t) => t % 8 === 3));
    test.push(items.filter((_, t) => t % 8 === 7));
  }
  return { numUsers: U, numItems: J, train, val, test };
}
