// Model-agnostic ranking evaluation: scores users in batches through a callback,
// ranks all items with the user's known items excluded, averages Recall@K and NDCG@K.
import { TopKSelector } from "./topk";
import { ndcgAtK, recallAtK } from "./ranking";

/** The part of a dataset split the evaluator reads: per-user dense item index lists. */
export interface EvalSplit {
  numUsers: number;
  numItems: number;
  train: number[][];
  val: number[][];
  test: number[][];
}

/** Scores for `users` as a row-major [users.length, numItems] array. */
export type ScoreFn = (users: number[]) => Float32Array | Promise<Float32Array>;

export interface EvalOptions {
  /** Cut-offs for Recall@K; default [20, 40]. */
  recallKs?: number[];
  /** Cut-offs for NDCG@K; default [100]. */
  ndcgKs?: number[];
  /** Users per score call; default 256. */
  batchSize?: number;
  /**
   * Items left out of the test ranking: 'train' (the authors' predict.py,
   * SPEC.md §7) or 'train+val' (a variant that raises the numbers). Validation always excludes train only.
   */
  testExclude?: TestExclude;
}

export type TestExclude = "train" | "train+val";
export const DEFAULT_TEST_EXCLUDE: TestExclude = "train";

/**
 * Means over evaluated users. `recall[K]`, `ndcg[K]` are keyed by cut-off;
 * `users` counts the users with at least one held-out item (the only ones averaged).
 */
export interface EvalResult {
  recall: Record<number, number>;
  ndcg: Record<number, number>;
  users: number;
}

export const DEFAULT_RECALL_KS: readonly number[] = [20, 40];
export const DEFAULT_NDCG_KS: readonly number[] = [100];

function checkKs(name: string, ks: number[]): void {
  if (!Array.isArray(ks) || ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) {
    throw new Error(`evaluateRanking: ${name} must be a non-empty list of positive integers, got ${JSON.stringify(ks)}`);
  }
}

function checkSplit(split: EvalSplit): void {
  const { numUsers, numItems } = split;
  if (!Number.isInteger(numUsers) || numUsers < 0 || !Number.isInteger(numItems) || numItems < 1) {
    throw new Error(`evaluateRanking: bad split sizes numUsers=${numUsers}, numItems=${numItems}`);
  }
  for (const part of ["train", "val", "test"] as const) {
    const lists = split[part];
    if (!Array.isArray(lists) || lists.length !== numUsers) {
      throw new Error(`evaluateRanking: split.${part} has ${lists?.length} user lists, expected numUsers=${numUsers}`);
    }
  }
}

/**
 * Evaluate `score` on the 'val' or 'test' items of `split`.
 * Excluded from ranking: train items for 'val'; for 'test', train items, plus the val items
 * when opts.testExclude is 'train+val'.
 */
export async function evaluateRanking(
  score: ScoreFn,
  split: EvalSplit,
  which: "val" | "test",
  opts: EvalOptions = {},
): Promise<EvalResult> {
  if (which !== "val" && which !== "test") {
    throw new Error(`evaluateRanking: which must be 'val' or 'test', got ${JSON.stringify(which)}`);
  }
  const recallKs = opts.recallKs ?? [...DEFAULT_RECALL_KS];
  const ndcgKs = opts.ndcgKs ?? [...DEFAULT_NDCG_KS];
  const batchSize = opts.batchSize ?? 256;
  const testExclude = opts.testExclude ?? DEFAULT_TEST_EXCLUDE;
  if (testExclude !== "train" && testExclude !== "train+val") {
    throw new Error(`evaluateRanking: testExclude must be 'train' or 'train+val', got ${JSON.stringify(testExclude)}`);
  }
  checkKs("recallKs", recallKs);
  checkKs("ndcgKs", ndcgKs);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`evaluateRanking: batchSize must be a positive integer, got ${batchSize}`);
  }
  checkSplit(split);
  const { numItems } = split;
  const maxK = Math.max(...recallKs, ...ndcgKs);

  const users: number[] = [];
  for (let u = 0; u < split.numUsers; u++) if (split[which][u].length > 0) users.push(u);

  const recallSum = new Float64Array(recallKs.length);
  const ndcgSum = new Float64Array(ndcgKs.length);
  const selector = new TopKSelector(numItems);
  for (let b = 0; b < users.length; b += batchSize) {
    const batch = users.slice(b, b + batchSize);
    const scores = await score(batch);
    if (!(scores instanceof Float32Array) || scores.length !== batch.length * numItems) {
      throw new Error(
        `evaluateRanking: score(${batch.length} users) returned ${scores?.constructor?.name} of length ` +
          `${scores?.length}, expected Float32Array of length ${batch.length * numItems} ([users, numItems])`,
      );
    }
    for (let r = 0; r < batch.length; r++) {
      const u = batch[r];
      const exclude = which === "val" || testExclude === "train" ? split.train[u] : split.train[u].concat(split.val[u]);
      const heldOut = new Set(split[which][u]);
      for (const j of heldOut) {
        if (!Number.isInteger(j) || j < 0 || j >= numItems) {
          throw new Error(`evaluateRanking: user ${u} has ${which} item ${j} out of range [0, ${numItems})`);
        }
      }
      const row = scores.subarray(r * numItems, (r + 1) * numItems);
      const ranked = selector.select(row, maxK, exclude);
      recallKs.forEach((k, i) => {
        recallSum[i] += recallAtK(ranked, heldOut, k);
      });
      ndcgKs.forEach((k, i) => {
        ndcgSum[i] += ndcgAtK(ranked, heldOut, k);
      });
    }
  }

  const n = users.length;
  const recall: Record<number, number> = {};
  const ndcg: Record<number, number> = {};
  // With no evaluable user the mean is undefined: NaN, not a fake 0.
  recallKs.forEach((k, i) => {
    recall[k] = n > 0 ? recallSum[i] / n : NaN;
  });
  ndcgKs.forEach((k, i) => {
    ndcg[k] = n > 0 ? ndcgSum[i] / n : NaN;
  });
  return { recall, ndcg, users: n };
}
