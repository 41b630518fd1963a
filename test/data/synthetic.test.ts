import { test } from "node:test";
import * as assert from "node:assert/strict";
import { loadDataset } from "../../src/cllm4rec/data/load_dataset";
import { generateSynthetic } from "../../src/cllm4rec/data/synthetic";
import { SYNTHETIC_CATEGORIES } from "../../src/cllm4rec/data/synthetic_vocabulary";
import type { Dataset } from "../../src/cllm4rec/data/dataset";

/** Recall@K = hits in top-K / min(K, |truth|), averaged over users with truth (SPEC §7), written here independently. */
function recallAt(ds: Dataset, k: number, score: (u: number) => Float64Array): number {
  let sum = 0;
  let users = 0;
  for (let u = 0; u < ds.numUsers; u++) {
    const truth = new Set(ds.test[u]);
    if (truth.size === 0) continue;
    const s = score(u);
    for (const j of [...ds.train[u], ...ds.val[u]]) s[j] = -Infinity;
    const top = Array.from(s.keys())
      .sort((a, b) => s[b] - s[a] || a - b)
      .slice(0, k);
    sum += top.filter((j) => truth.has(j)).length / Math.min(k, truth.size);
    users++;
  }
  return sum / users;
}

function popularityScores(ds: Dataset): Float64Array {
  const pop = new Float64Array(ds.numItems);
  for (const items of ds.train) for (const j of items) pop[j]++;
  return pop;
}

test("synthetic data: default sizes, >= 5 positives per user, deterministic per seed", async () => {
  const ds = await loadDataset({ kind: "synthetic" });
  assert.equal(ds.numUsers, 1000);
  assert.ok(ds.numItems > 450 && ds.numItems <= 500, `items ${ds.numItems}`);
  assert.ok(ds.card.perUser.min >= 5);
  assert.ok(ds.card.perUser.mean >= 10 && ds.card.perUser.mean <= 30, `mean per user ${ds.card.perUser.mean}`);
  assert.ok(ds.card.raw.rows > ds.card.filtering.positivePairs, "low-rated rows exist for the positive filter to remove");
  assert.ok(ds.reviews.length > 0.5 * ds.card.interactions.train);
  assert.equal(ds.itemText.filter((t) => t === null).length, 0);
  const again = await loadDataset({ kind: "synthetic" });
  assert.deepEqual(again.train, ds.train);
  assert.deepEqual(again.reviews.slice(0, 50), ds.reviews.slice(0, 50));
  const other = await loadDataset({ kind: "synthetic", seed: 2 });
  assert.notDeepEqual(other.train, ds.train);
  assert.throws(() => generateSynthetic({ numCategories: 11 }), /generateSynthetic.*numCategories is at most 10/);
});

test("synthetic texts use their category words; reviews depend on item category and user taste", () => {
  const { raw, truth } = generateSynthetic({ numUsers: 200, numItems: 100 });
  for (let j = 0; j < 100; j++) {
    const v = SYNTHETIC_CATEGORIES[truth.itemCategory[j]];
    const text = raw.itemText.get(String(j))!;
    assert.ok(text.includes(v.name), `item ${j} text lacks its category name: ${text}`);
    assert.ok(v.features.some((f) => text.includes(f)));
  }
  let checked = 0;
  for (const [key, text] of raw.reviews) {
    const [u, j] = (JSON.parse(key) as string[]).map(Number); // reviewKey: JSON of [user, item]
    const item = SYNTHETIC_CATEGORIES[truth.itemCategory[j]];
    assert.ok(
      item.features.some((f) => text.includes(`The ${f} is`)),
      text,
    );
    const taste = truth.userTaste[u];
    const main = taste.indexOf(Math.max(...taste));
    assert.ok(
      SYNTHETIC_CATEGORIES[main].personas.some((p) => text.toLowerCase().startsWith(p.toLowerCase())),
      text,
    );
    checked++;
  }
  assert.ok(checked > 1000);
});

test("synthetic data: item-item co-occurrence and text similarity both beat popularity on test Recall@20", async () => {
  const ds = await loadDataset({ kind: "synthetic" });
  const pop = popularityScores(ds);
  const popRecall = recallAt(ds, 20, () => pop.slice());

  // Collaborative signal: co-occurrence counts of training items.
  const co = Array.from({ length: ds.numItems }, () => new Float64Array(ds.numItems));
  for (const items of ds.train) for (const a of items) for (const b of items) if (a !== b) co[a][b]++;
  const coRecall = recallAt(ds, 20, (u) => {
    const s = new Float64Array(ds.numItems);
    for (const a of ds.train[u]) for (let j = 0; j < ds.numItems; j++) s[j] += co[a][j];
    return s;
  });

  // Content signal: idf-weighted overlap of item-text words with the words of the user's training items' texts,
  // times popularity: if text carried no taste information this would rank like popularity.
  const words = ds.itemText.map((t) => new Set((t ?? "").toLowerCase().match(/[a-z]+/g) ?? []));
  const df = new Map<string, number>();
  for (const ws of words) for (const w of ws) df.set(w, (df.get(w) ?? 0) + 1);
  const idf = (w: string): number => Math.log(ds.numItems / df.get(w)!);
  const textRecall = recallAt(ds, 20, (u) => {
    const profile = new Map<string, number>();
    for (const a of ds.train[u]) for (const w of words[a]) profile.set(w, (profile.get(w) ?? 0) + idf(w));
    return Float64Array.from(words, (ws, j) => [...ws].reduce((acc, w) => acc + (profile.get(w) ?? 0) * idf(w), 0) * (1 + pop[j]));
  });
  console.log(
    `synthetic Recall@20 (test): popularity ${popRecall.toFixed(4)}, co-occurrence ${coRecall.toFixed(4)}, text overlap ${textRecall.toFixed(4)}`,
  );
  assert.ok(coRecall > popRecall * 1.2, `co-occurrence ${coRecall} vs popularity ${popRecall}`);
  assert.ok(textRecall > popRecall * 1.2, `text ${textRecall} vs popularity ${popRecall}`);
});
