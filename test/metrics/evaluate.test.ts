import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluateRanking, type EvalSplit } from "../../src/shared/metrics";

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-6, `${msg ?? ""} ${a} vs ${b}`);
const g = (rank: number) => 1 / Math.log2(rank + 1);

// 4 users, 5 items; user 1 has no val items, user 2 no test items.
const split: EvalSplit = {
  numUsers: 4,
  numItems: 5,
  train: [[0], [4], [1], []],
  val: [[1], [], [3], [2]],
  test: [[2], [3], [], [0, 4]],
};
const rows = [
  [0.9, 0.8, 0.7, 0.6, 0.5],
  [0.1, 0.2, 0.45, 0.4, 0.5],
  [0.5, 0.5, 0.5, 0.5, 0.5],
  [0.2, 0.2, 0.9, 0.2, 0.2],
];
function makeScore(calls: number[][]) {
  return async (users: number[]) => {
    calls.push(users);
    return Float32Array.from(users.flatMap((u) => rows[u]));
  };
}

test("evaluateRanking(test, testExclude 'train+val'): excludes train + val, skips users without test items", async () => {
  const calls: number[][] = [];
  const res = await evaluateRanking(makeScore(calls), split, "test", {
    recallKs: [1, 2, 20],
    ndcgKs: [3],
    batchSize: 2,
    testExclude: "train+val",
  });
  // Rankings by hand: u0 [2,3,4], u1 [2,3,1,0], u3 [0,1,3,4] (ties -> lower index).
  assert.deepEqual(calls, [[0, 1], [3]]);
  assert.equal(res.users, 3);
  close(res.recall[1], (1 + 0 + 1) / 3, "R@1");
  close(res.recall[2], (1 + 1 + 0.5) / 3, "R@2");
  close(res.recall[20], 1, "R@20 (K > numItems)");
  close(res.ndcg[3], (1 + g(2) + 1 / (g(1) + g(2))) / 3, "N@3");
});

test("evaluateRanking(val): excludes train only; a synchronous score function works", async () => {
  const score = (users: number[]) => Float32Array.from(users.flatMap((u) => rows[u]));
  const res = await evaluateRanking(score, split, "val", { recallKs: [1, 2], ndcgKs: [3] });
  // Rankings: u0 [1,2,3,4], u2 [0,2,3,4], u3 [2,0,1,3,4].
  assert.equal(res.users, 3);
  close(res.recall[1], 2 / 3);
  close(res.recall[2], 2 / 3);
  close(res.ndcg[3], (1 + g(3) + 1) / 3);
});

test("evaluateRanking: defaults are Recall@20, Recall@40, NDCG@100 and the authors' test exclusion (train only)", async () => {
  const score = (users: number[]) => Float32Array.from(users.flatMap((u) => rows[u]));
  const res = await evaluateRanking(score, split, "test");
  assert.deepEqual(Object.keys(res.recall), ["20", "40"]);
  assert.deepEqual(Object.keys(res.ndcg), ["100"]);
  close(res.recall[20], 1);
  // Only train excluded: u0 [1,2,3,4] test item at rank 2; u1 [2,3,1,0] rank 2;
  // u3 [2,0,1,3,4] test items at ranks 2 and 5.
  close(res.ndcg[100], (g(2) + g(2) + (g(2) + g(5)) / (g(1) + g(2))) / 3);
  // the variant: u3 ranks [0,1,3,4], both test items at ranks 1 and 4
  const variant = await evaluateRanking(score, split, "test", { testExclude: "train+val" });
  close(variant.ndcg[100], (1 + g(2) + (g(1) + g(4)) / (g(1) + g(2))) / 3);
});

test("evaluateRanking: bad score output and bad options are clear errors", async () => {
  await assert.rejects(
    evaluateRanking(() => new Float32Array(3), split, "test"),
    /score\(3 users\) returned Float32Array of length 3, expected Float32Array of length 15/,
  );
  await assert.rejects(
    evaluateRanking((u) => new Float32Array(u.length * 5).fill(NaN), split, "val"),
    /topK: score of item 0 is NaN/,
  );
  await assert.rejects(
    evaluateRanking(() => new Float32Array(0), split, "train" as "val"),
    /which must be 'val' or 'test'/,
  );
  await assert.rejects(
    evaluateRanking(() => new Float32Array(0), split, "val", { recallKs: [0] }),
    /recallKs must be a non-empty list/,
  );
  await assert.rejects(
    evaluateRanking(() => new Float32Array(0), { ...split, test: [[1]] }, "test"),
    /split.test has 1 user lists, expected numUsers=4/,
  );
});

test("evaluateRanking(test, testExclude 'train'): the authors' protocol keeps val items rankable", async () => {
  const score = (users: number[]) => Float32Array.from(users.flatMap((u) => rows[u]));
  const res = await evaluateRanking(score, split, "test", { recallKs: [1, 2], ndcgKs: [3], testExclude: "train" });
  // Rankings with only train excluded: u0 [1,2,3,4] (val item 1 now ranks first), u1 [2,3,1,0],
  // u3 [2,0,1,3,4] (val item 2 first).
  assert.equal(res.users, 3);
  close(res.recall[1], (0 + 0 + 0) / 3, "R@1");
  close(res.recall[2], (1 + 1 + 0.5) / 3, "R@2");
  close(res.ndcg[3], (g(2) + g(2) + g(2) / (g(1) + g(2))) / 3, "N@3");
  const variant = await evaluateRanking(score, split, "test", { recallKs: [1, 2], ndcgKs: [3], testExclude: "train+val" });
  close(variant.recall[1], (1 + 0 + 1) / 3, "train+val R@1");
  await assert.rejects(
    evaluateRanking(score, split, "test", { testExclude: "val" as "train" }),
    /testExclude must be 'train' or 'train\+val', got "val"/,
  );
});
