import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { kCore } from "../../src/cllm4rec/data/kcore";
import { preprocess, sortIds } from "../../src/cllm4rec/data/preprocess";
import { splitCounts } from "../../src/cllm4rec/data/split";
import { emptyRawData, reviewKey, type RawData } from "../../src/cllm4rec/data/raw_data";
import { loadDataset } from "../../src/cllm4rec/data/load_dataset";
import { formatDatasetCard } from "../../src/cllm4rec/data/dataset_card";
import { Rng } from "../../src/shared/rng";
import { tempDir, writeFile } from "./helpers";

test("kCore on a hand-made graph peels iteratively", () => {
  // Users 0,1,2 each have 2 items among {0,1,2}; user 3 has items {2,3}; item 3 only has user 3.
  // With users >= 2 and items >= 2: item 3 goes (1 edge) -> user 3 drops to 1 edge -> goes -> item 2 keeps users 1,2.
  const users = Int32Array.from([0, 0, 1, 1, 2, 2, 3, 3]);
  const items = Int32Array.from([0, 1, 1, 2, 0, 2, 2, 3]);
  assert.deepEqual([...kCore(users, items, 4, 4, 2, 2)], [1, 1, 1, 1, 1, 1, 0, 0]);
  // Users >= 3: nobody qualifies, everything cascades away.
  assert.deepEqual([...kCore(users, items, 4, 4, 3, 0)], [0, 0, 0, 0, 0, 0, 0, 0]);
  // No constraints keep every edge.
  assert.deepEqual([...kCore(users, items, 4, 4, 0, 0)], [1, 1, 1, 1, 1, 1, 1, 1]);
});

test("splitCounts: documented rounding (round half up, each part >= 1)", () => {
  const f = { valFraction: 0.1, testFraction: 0.1 };
  assert.deepEqual(splitCounts(3, f), { train: 1, val: 1, test: 1 });
  assert.deepEqual(splitCounts(5, f), { train: 3, val: 1, test: 1 });
  assert.deepEqual(splitCounts(14, f), { train: 12, val: 1, test: 1 });
  assert.deepEqual(splitCounts(15, f), { train: 11, val: 2, test: 2 });
  assert.deepEqual(splitCounts(100, f), { train: 80, val: 10, test: 10 });
  // 1.6 rounds to 2 each, train would be 0: test gives one back first (tie).
  assert.deepEqual(splitCounts(4, { valFraction: 0.4, testFraction: 0.4 }), { train: 1, val: 2, test: 1 });
  assert.throws(() => splitCounts(2, f), /splitCounts.*>= 3 positives/);
});

/** Random raw data: users with 2..30 rows, ratings 1..5, some duplicate rows, some rows without rating. */
function randomRaw(seed: number, users = 60, items = 80): RawData {
  const rng = new Rng(seed);
  const raw = emptyRawData("random");
  for (let u = 0; u < users; u++) {
    const n = 2 + rng.int(29);
    for (let k = 0; k < n; k++) {
      const item = `i${rng.int(items)}`;
      raw.interactions.push({ user: `u${u}`, item, rating: rng.float() < 0.1 ? null : 1 + rng.int(5), time: k });
      raw.reviews.set(reviewKey(`u${u}`, item), `review of ${item} by u${u}`);
    }
  }
  return raw;
}

/** Independent recomputation of the expected positive sets: latest row per pair, rating > 3 or null, then 5-core by brute force. */
function expectedPositives(raw: RawData): Map<string, Set<string>> {
  const last = new Map<string, number | null>();
  for (const r of raw.interactions) last.set(`${r.user}\t${r.item}`, r.rating);
  let pairs = [...last].filter(([, r]) => r === null || r > 3).map(([k]) => k.split("\t"));
  for (;;) {
    const deg = new Map<string, number>();
    for (const [u] of pairs) deg.set(u, (deg.get(u) ?? 0) + 1);
    const next = pairs.filter(([u]) => deg.get(u)! >= 5);
    if (next.length === pairs.length) break;
    pairs = next;
  }
  const byUser = new Map<string, Set<string>>();
  for (const [u, i] of pairs) byUser.set(u, (byUser.get(u) ?? new Set()).add(i));
  return byUser;
}

test("preprocess split invariants: disjoint, complete, >= 1 per part, seed-stable, seed-sensitive", () => {
  const raw = randomRaw(1);
  const ds = preprocess(raw, { seed: 7 });
  const expected = expectedPositives(raw);
  assert.equal(ds.numUsers, expected.size);
  assert.deepEqual(new Set(ds.userIds), new Set(expected.keys()));
  for (let u = 0; u < ds.numUsers; u++) {
    const parts = [ds.train[u], ds.val[u], ds.test[u]];
    for (const p of parts) assert.ok(p.length >= 1, `user ${u} has an empty part`);
    const all = parts.flat().map((j) => ds.itemIds[j]);
    assert.equal(new Set(all).size, all.length, "parts overlap");
    assert.deepEqual(new Set(all), expected.get(ds.userIds[u]), "every positive in exactly one part");
    const c = splitCounts(all.length, { valFraction: 0.1, testFraction: 0.1 });
    assert.deepEqual(
      parts.map((p) => p.length),
      [c.train, c.val, c.test],
    );
  }
  const again = preprocess(raw, { seed: 7 });
  assert.deepEqual([again.train, again.val, again.test], [ds.train, ds.val, ds.test]);
  const other = preprocess(raw, { seed: 8 });
  assert.notDeepEqual([other.val, other.test], [ds.val, ds.test]);
});

test("preprocess: reviews of validation/test pairs never reach the dataset; ids sorted numerically", () => {
  const raw = randomRaw(2);
  const ds = preprocess(raw);
  const trainPairs = new Set<string>();
  ds.train.forEach((items, u) => {
    for (const j of items) trainPairs.add(`${u},${j}`);
  });
  assert.ok(ds.reviews.length > 0);
  for (const r of ds.reviews) {
    assert.ok(trainPairs.has(`${r.user},${r.item}`), "review of a held-out pair leaked");
    assert.equal(r.text, `review of ${ds.itemIds[r.item]} by ${ds.userIds[r.user]}`);
  }
  assert.equal(ds.reviews.length, trainPairs.size);
  assert.deepEqual(sortIds(["10", "9", "100", "-1"]), ["-1", "9", "10", "100"]);
  assert.deepEqual(sortIds(["b", "10", "a", "9"]), ["10", "9", "a", "b"]);
});

test("preprocess: duplicates collapse to the latest row; the card counts them", () => {
  const raw = emptyRawData("dups");
  for (let j = 0; j < 6; j++) raw.interactions.push({ user: "1", item: String(j), rating: 5, time: 10 });
  // Item 0: a later low rating overrides -> not positive. Item 6: an earlier low, later high -> positive.
  raw.interactions.push({ user: "1", item: "0", rating: 1, time: 20 });
  raw.interactions.push({ user: "1", item: "6", rating: 5, time: 30 }, { user: "1", item: "6", rating: 2, time: 5 });
  const ds = preprocess(raw);
  assert.deepEqual(ds.itemIds, ["1", "2", "3", "4", "5", "6"]);
  assert.equal(ds.card.filtering.duplicatePairs, 2);
  assert.equal(ds.card.interactions.total, 6);
});

test("preprocess: an empty result names the filter that removed everything", () => {
  const low = emptyRawData("low");
  for (let j = 0; j < 10; j++) low.interactions.push({ user: "a", item: String(j), rating: 2, time: null });
  assert.throws(() => preprocess(low), /positive filter \(rating > 3\) removed every interaction/);
  const sparse = emptyRawData("sparse");
  for (let j = 0; j < 4; j++) sparse.interactions.push({ user: "a", item: String(j), rating: 5, time: null });
  assert.throws(() => preprocess(sparse), /k-core filter \(users >= 5/);
  assert.throws(() => preprocess(emptyRawData("none")), /no readable interaction rows/);
});

test("dataset card: counts, text coverage and the printed table", () => {
  const raw = randomRaw(3);
  raw.itemText.set("i1", "first item");
  raw.userText.set("u1", "a user");
  const ds = preprocess(raw);
  const c = ds.card;
  assert.equal(c.raw.rows, raw.interactions.length);
  assert.equal(c.users, ds.numUsers);
  assert.equal(c.interactions.train + c.interactions.val + c.interactions.test, c.interactions.total);
  assert.ok(Math.abs(c.density - c.interactions.total / (ds.numUsers * ds.numItems)) < 1e-12);
  assert.ok(c.perUser.min >= 5);
  assert.equal(c.textCoverage.itemsWithText, ds.itemText.filter((t) => t !== null).length);
  const table = formatDatasetCard(c);
  assert.match(table, /train \/ val \/ test/);
  assert.match(table, /train pairs with review\s+\S+ \(100\.0%\)/);
});

test("loadDataset cache: reused when nothing changes, rebuilt when an option or an input file changes", async () => {
  const dir = tempDir("cache");
  const cacheDir = path.join(dir, "cache");
  const rows = ["user,item,rating"];
  for (let u = 0; u < 8; u++) for (let j = 0; j < 7; j++) rows.push(`${u},${(u + j) % 12},${j === 0 ? 2 : 5}`);
  const file = writeFile(dir, "inter.csv", rows.join("\n") + "\n");
  const spec = { kind: "generic" as const, interactions: file };
  const a = await loadDataset(spec, { cacheDir, seed: 1 });
  const cached = fs.readdirSync(cacheDir).filter((f) => f.endsWith(".json") && !f.endsWith(".card.json"));
  assert.equal(cached.length, 1);
  // Tamper with the cached copy: a reuse must return the tampered copy, a rebuild must not.
  const cacheFile = path.join(cacheDir, cached[0]);
  const stored = JSON.parse(fs.readFileSync(cacheFile, "utf8"));
  stored.dataset.name = "from-cache";
  fs.writeFileSync(cacheFile, JSON.stringify(stored));
  assert.equal((await loadDataset(spec, { cacheDir, seed: 1 })).name, "from-cache");
  const b = await loadDataset(spec, { cacheDir, seed: 2 });
  assert.equal(b.name, a.name);
  assert.equal(fs.readdirSync(cacheDir).filter((f) => f.endsWith(".card.json")).length, 2);
  const c = await loadDataset(spec, { cacheDir, seed: 1, positiveThreshold: 1 });
  assert.equal(c.card.interactions.total, 56);
  assert.equal(a.card.interactions.total, 48);
  fs.appendFileSync(file, "9,0,5\n");
  assert.equal((await loadDataset(spec, { cacheDir, seed: 1 })).name, "inter");
  // The card file option writes the card JSON.
  const cardFile = path.join(dir, "card.json");
  await loadDataset(spec, { cacheDir, seed: 1, cardFile });
  assert.equal(JSON.parse(fs.readFileSync(cardFile, "utf8")).users, a.numUsers);
});

test("loadDataset: missing files and unknown kinds are clear Errors", async () => {
  await assert.rejects(
    loadDataset({ kind: "amazon", file: "/nonexistent/reviews.json" }),
    /loadDataset.*Amazon review file not found: \/nonexistent\/reviews.json/,
  );
  await assert.rejects(loadDataset({ kind: "movielens", dir: "/nonexistent/ml" }), /loadDataset.*MovieLens folder not found/);
  await assert.rejects(loadDataset({ kind: "csv" } as never), /loadDataset.*unknown data kind "csv"/);
  await assert.rejects(loadDataset({ kind: "synthetic", numUsers: 0 }), /generateSynthetic.*numUsers/);
});
