import { test } from "node:test";
import assert from "node:assert/strict";
import { EaseRecommender, easeWeights, type Split } from "../../src/baselines";
import { evaluateRanking } from "../../src/shared/metrics";
import { gaussJordanInverse, lcg, naiveRecall } from "./naive";

function assertClose(got: Float32Array, want: number[], tol = 1e-6): void {
  assert.equal(got.length, want.length);
  want.forEach((w, i) => {
    assert.ok(Math.abs(got[i] - w) <= tol, `[${i}] ${got[i]} vs ${w}`);
  });
}

function splitOf(train: number[][], numItems: number): Split {
  const none = train.map(() => [] as number[]);
  return { numUsers: train.length, numItems, train, val: none, test: none };
}

test("EASE: 3x3 closed form solved by hand", async () => {
  // X rows {0,1}, {1,2}, {0,1,2}; lambda 1: G = [[3,2,1],[2,4,2],[1,2,3]], det 16,
  // P = G^-1 = [[.5,-.25,0],[-.25,.5,-.25],[0,-.25,.5]], B_ij = -P_ij / P_jj.
  const ease = new EaseRecommender({ lambda: 1 });
  await ease.fit(
    splitOf(
      [
        [0, 1],
        [1, 2],
        [0, 1, 2],
      ],
      3,
    ),
  );
  assertClose(ease.weights(), [0, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0]);
  assertClose(ease.score([2, 0]), [0.5, 1, 0.5, 0.5, 0.5, 0.5]);
});

test("EASE: 4x4 case against a Gauss-Jordan inverse built in the test", () => {
  const lists = [[0, 1], [1, 2, 3], [0, 3], [2], [0, 1, 2, 3], [1, 3]];
  const J = 4;
  const lambda = 2;
  const X = lists.map((l) => Array.from({ length: J }, (_, j) => (l.includes(j) ? 1 : 0)));
  const G = Array.from({ length: J }, (_, a) =>
    Array.from({ length: J }, (_, b) => X.reduce((s, row) => s + row[a] * row[b], 0) + (a === b ? lambda : 0)),
  );
  const P = gaussJordanInverse(G);
  const B = easeWeights(lists, J, lambda);
  for (let i = 0; i < J; i++) {
    for (let j = 0; j < J; j++) {
      const want = i === j ? 0 : -P[i][j] / P[j][j];
      assert.ok(Math.abs(B[i * J + j] - want) < 1e-6, `B(${i},${j}) = ${B[i * J + j]} vs ${want}`);
    }
  }
});

test("EASE: training items are excluded through the evaluator (naive full-sort reference)", async () => {
  const rnd = lcg(5);
  const U = 40;
  const J = 25;
  const parts = { train: [] as number[][], val: [] as number[][], test: [] as number[][] };
  for (let u = 0; u < U; u++) {
    const items = Array.from({ length: J }, (_, j) => j).filter(() => rnd() < 0.3);
    parts.train.push(items.filter((_, t) => t % 3 !== 2));
    parts.val.push(items.filter((_, t) => t % 6 === 2));
    parts.test.push(items.filter((_, t) => t % 6 === 5));
  }
  const split: Split = { numUsers: U, numItems: J, ...parts };
  const ease = new EaseRecommender({ lambda: 3 });
  await ease.fit(split);
  const users = Array.from({ length: U }, (_, u) => u);
  const flat = ease.score(users);
  const rows = users.map((u) => Array.from(flat.subarray(u * J, (u + 1) * J)));
  const exTest = parts.train.map((t, u) => t.concat(parts.val[u]));
  const res = await evaluateRanking((us) => ease.score(us), split, "test", {
    recallKs: [3, 5],
    ndcgKs: [5],
    batchSize: 7,
    testExclude: "train+val",
  });
  assert.ok(Math.abs(res.recall[3] - naiveRecall(rows, exTest, parts.test, 3)) < 1e-9);
  assert.ok(Math.abs(res.recall[5] - naiveRecall(rows, exTest, parts.test, 5)) < 1e-9);
  // Training items score high under EASE: leaving them in would change the result.
  assert.notEqual(
    naiveRecall(
      rows,
      parts.val.map(() => []),
      parts.test,
      3,
    ),
    res.recall[3],
  );
  const val = await evaluateRanking((us) => ease.score(us), split, "val", { recallKs: [3], ndcgKs: [5] });
  assert.ok(Math.abs(val.recall[3] - naiveRecall(rows, parts.train, parts.val, 3)) < 1e-9);
});

test("EASE: bad lambda, singular G, and unfitted use are clear errors", async () => {
  assert.throws(() => new EaseRecommender({ lambda: -1 }), /EaseRecommender: lambda must be a finite number >= 0, got -1/);
  assert.throws(() => new EaseRecommender({ lambda: NaN }), /got NaN/);
  // Item 2 never occurs and lambda = 0: G has a zero pivot.
  await assert.rejects(new EaseRecommender({ lambda: 0 }).fit(splitOf([[0, 1], [1]], 3)), /G = X\^T X \+ 0 I is not positive definite/);
  assert.throws(() => new EaseRecommender().score([0]), /EaseRecommender.score: call fit\(\) first/);
  const e = new EaseRecommender({ lambda: 1 });
  await e.fit(splitOf([[0], [1]], 2));
  assert.throws(() => e.score([2]), /EaseRecommender.score: user 2 out of range \[0, 2\)/);
  await assert.rejects(e.fit(splitOf([[0], [5]], 2)), /split.train\[1\] has item 5 out of range \[0, 2\)/);
});
