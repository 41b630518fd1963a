// Real-data check on MovieLens-100k (read from the shared folder, never copied here).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EaseRecommender, PopularityRecommender, runCompare, type Split } from "../../src/baselines";
import { lcg } from "../helpers";

const repoRoot = path.resolve(__dirname, "..", "..", "..");
const dataDir = process.env.CLLM4REC_SHARED_DATA ?? path.resolve(repoRoot, "..", "shared", "data");
const uData = path.join(dataDir, "ml-100k", "u.data");

/** SPEC §7 protocol, simply: ratings > 3, users with >= 5 positives, seeded per-user 80/10/10. */
function ml100kSplit(file: string, seed: number): Split {
  const byUser = new Map<number, number[]>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const [u, i, r] = line.split("\t").map(Number);
    if (r > 3) byUser.set(u, [...(byUser.get(u) ?? []), i]);
  }
  const users = [...byUser.keys()].filter((u) => byUser.get(u)!.length >= 5).sort((a, b) => a - b);
  const itemIds = [...new Set(users.flatMap((u) => byUser.get(u)!))].sort((a, b) => a - b);
  const itemIndex = new Map(itemIds.map((id, j) => [id, j]));
  const rnd = lcg(seed);
  const split: Split = { numUsers: users.length, numItems: itemIds.length, train: [], val: [], test: [] };
  for (const u of users) {
    const items = byUser
      .get(u)!
      .map((id) => itemIndex.get(id)!)
      .sort((a, b) => a - b);
    for (let t = items.length - 1; t > 0; t--) {
      const o = Math.floor(rnd() * (t + 1));
      [items[t], items[o]] = [items[o], items[t]];
    }
    const nHeld = Math.max(1, Math.round(0.1 * items.length));
    split.test.push(items.slice(0, nHeld));
    split.val.push(items.slice(nHeld, 2 * nHeld));
    split.train.push(items.slice(2 * nHeld));
  }
  return split;
}

test("MovieLens-100k: EASE beats popularity on test Recall@20", { skip: fs.existsSync(uData) ? false : `no ${uData}` }, async (t) => {
  const split = ml100kSplit(uData, 2024);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "ml100k-compare-"));
  const report = await runCompare(split, [new PopularityRecommender(), new EaseRecommender({ lambda: 500 })], {
    datasetName: "MovieLens-100k (ratings > 3, seeded 80/10/10)",
    outDir,
  });
  t.diagnostic(`${split.numUsers} users, ${split.numItems} items; report in ${outDir}`);
  for (const line of fs.readFileSync(path.join(outDir, "compare.md"), "utf8").split("\n")) if (line.startsWith("|")) t.diagnostic(line);
  const [pop, ease] = report.rows;
  assert.ok(ease.test.recall[20] > pop.test.recall[20], `EASE ${ease.test.recall[20]} vs popularity ${pop.test.recall[20]}`);
  assert.ok(ease.test.ndcg[100] > pop.test.ndcg[100]);
});
