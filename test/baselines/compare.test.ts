import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PopularityRecommender, runCompare, type CompareRow, type Recommender, type Split } from "../../src/baselines";

// Train counts: item 2 -> 3, item 0 -> 2, item 3 -> 1, item 1 -> 0.
const split: Split = {
  numUsers: 4,
  numItems: 4,
  train: [[2, 0], [2, 3], [2], [0]],
  val: [[], [0], [], [1]],
  test: [[3], [1], [0], [3]],
};

/** Scores item j as j (so higher index first); fit takes ~60 ms. */
class SlowIndexRecommender implements Recommender {
  readonly name = "Index | slow";
  async fit(): Promise<void> {
    await new Promise((r) => setTimeout(r, 60));
  }
  score(users: number[]): Float32Array {
    return Float32Array.from(users.flatMap(() => [0, 1, 2, 3]));
  }
}

const cllm: CompareRow = {
  name: "CLLM4Rec",
  val: { recall: { 1: 0.1, 2: 0.2 }, ndcg: { 2: 0.3 }, users: 2 },
  test: { recall: { 1: 0.4, 2: 0.5 }, ndcg: { 2: 0.6 }, users: 4 },
  trainSeconds: 12.5,
  scoreSecondsPer1k: 0.25,
};

test("runCompare: writes compare.md/json/svg with every row and hand-computed numbers", async () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "compare-"));
  const report = await runCompare(split, [new PopularityRecommender(), new SlowIndexRecommender()], {
    datasetName: "toy",
    outDir,
    extraRows: [cllm],
    eval: { recallKs: [1, 2], ndcgKs: [2], batchSize: 3, testExclude: "train+val" },
  });
  const md = fs.readFileSync(path.join(outDir, "compare.md"), "utf8");
  assert.match(md, /train \+ val items for test \(a variant, not the authors' protocol\); test excludes: train\+val/);
  const lines = md.split("\n");
  assert.ok(
    lines.includes("| Model | Val R@1 | Val R@2 | Val N@2 | Test R@1 | Test R@2 | Test N@2 | Train (s) | Score (s / 1k users) |"),
    md,
  );
  // Popularity, by hand. Val (exclude train): u1 ranks [0,1] -> hit@1; u3 ranks [2,3,1] -> miss.
  // Test (exclude train+val): u0 [3,1] hit@1; u1 [1] hit@1; u2 [0,3,1] hit@1; u3 [2,3] hit@2.
  const pop = lines.find((l) => l.startsWith("| Popularity |"));
  assert.ok(pop, md);
  const popCells = pop
    .split("|")
    .map((c) => c.trim())
    .slice(1, -1);
  assert.deepEqual(popCells.slice(0, 7), [
    "Popularity",
    "0.5000",
    "0.5000",
    "0.5000",
    "0.7500",
    "1.0000",
    ((3 + 1 / Math.log2(3)) / 4).toFixed(4),
  ]);
  // Index order 3,2,1,0. Val: u1 [1,0] -> hit@2 (R@2 = 1/min(2,1), N = 1/log2 3); u3 [3,2,1] -> miss.
  // Test: u0 [3,1] hit@1; u1 [1] hit@1; u2 [3,1,0] miss@2; u3 [3,2] hit@1.
  const idx = lines.find((l) => l.startsWith("| Index \\| slow |"));
  assert.ok(idx, md);
  const idxCells = idx
    .split(/(?<!\\)\|/)
    .map((c) => c.trim())
    .slice(1, -1);
  assert.deepEqual(idxCells.slice(1, 7), ["0.0000", "0.5000", (1 / Math.log2(3) / 2).toFixed(4), "0.7500", "0.7500", "0.7500"]);
  assert.ok(Number(idxCells[7]) >= 0.05, `train seconds ${idxCells[7]}`);
  assert.ok(lines.includes("| CLLM4Rec | 0.1000 | 0.2000 | 0.3000 | 0.4000 | 0.5000 | 0.6000 | 12.50 | 0.25 |"), md);

  const json = JSON.parse(fs.readFileSync(path.join(outDir, "compare.json"), "utf8"));
  assert.equal(json.dataset, "toy");
  assert.deepEqual(
    json.rows.map((r: CompareRow) => r.name),
    ["Popularity", "Index | slow", "CLLM4Rec"],
  );
  assert.equal(json.rows[0].test.recall["1"], 0.75);
  assert.equal(json.rows[0].test.users, 4);
  assert.equal(json.rows[0].val.users, 2);
  assert.deepEqual(json, JSON.parse(JSON.stringify(report)));

  const svg = fs.readFileSync(path.join(outDir, "compare.svg"), "utf8");
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  for (const label of ["Popularity", "Index | slow", "CLLM4Rec", "Recall@1", "Recall@2", "NDCG@2", "Test metrics: toy"]) {
    assert.ok(svg.includes(`>${label}<`), `svg lacks label ${label}`);
  }
  assert.equal((svg.match(/<title>/g) ?? []).length, 9, "one bar per model and metric");
  assert.ok(svg.includes("<title>CLLM4Rec Recall@2: 0.5000</title>"));
});

test("runCompare: extra rows must carry every cut-off; bad options are errors", async () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "compare-"));
  const bad = { ...cllm, test: { recall: { 1: 0.4 }, ndcg: { 2: 0.6 }, users: 4 } };
  await assert.rejects(
    runCompare(split, [], { datasetName: "toy", outDir, extraRows: [bad], eval: { recallKs: [1, 2], ndcgKs: [2] } }),
    /runCompare: row 'CLLM4Rec' lacks test.recall\[2\]/,
  );
  await assert.rejects(runCompare(split, [], { datasetName: "toy" } as never), /opts.datasetName and opts.outDir must be strings/);
});
