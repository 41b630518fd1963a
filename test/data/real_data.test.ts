import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { readMovielens } from "../../src/cllm4rec/data/read_movielens";
import { readAmazonReviews } from "../../src/cllm4rec/data/read_amazon";
import { preprocess } from "../../src/cllm4rec/data/preprocess";
import { formatDatasetCard } from "../../src/cllm4rec/data/dataset_card";
import { sharedDataDir } from "./helpers";

const shared = sharedDataDir();
const skip = shared === null ? "shared data folder not found (../shared/data or CLLM4REC_SHARED_DATA); real-data tests skipped" : false;

test("MovieLens-100k: raw counts, then the SPEC preprocessing card", { skip }, async (t) => {
  const dir = path.join(shared!, "ml-100k");
  if (!fs.existsSync(path.join(dir, "u.data"))) return t.skip(`${dir}/u.data not found`);
  const raw = await readMovielens(dir);
  assert.equal(raw.interactions.length, 100_000);
  assert.equal(new Set(raw.interactions.map((r) => r.user)).size, 943);
  assert.equal(new Set(raw.interactions.map((r) => r.item)).size, 1682);
  assert.equal(raw.badRows, 0);
  assert.equal(raw.itemText.size, 1682);
  assert.equal(raw.itemText.get("1633"), "Á köldum klaka (Cold Fever) (1994)");
  assert.equal(raw.userText.get("1"), "age 24, male, technician");
  const ds = preprocess(raw, { positiveThreshold: 3, userCore: 5 }, "movielens ml-100k");
  console.log(`\n${formatDatasetCard(ds.card)}`);
  // Ratings 4 and 5: 34,174 + 21,201 = 55,375 positive rows (README counts).
  assert.equal(ds.card.filtering.positivePairs, 55_375);
  assert.ok(ds.card.perUser.min >= 5);
  assert.equal(ds.card.interactions.total, ds.card.filtering.afterCorePairs);
});

test("Amazon musical instruments jsonl: raw counts, then the SPEC preprocessing card", { skip }, async (t) => {
  const file = path.join(shared!, "amazon-musical-instruments", "reviews_Musical_Instruments_5.jsonl");
  if (!fs.existsSync(file)) return t.skip(`${file} not found`);
  const raw = await readAmazonReviews(file);
  assert.equal(raw.interactions.length, 10_261);
  assert.equal(new Set(raw.interactions.map((r) => r.user)).size, 1429);
  assert.equal(new Set(raw.interactions.map((r) => r.item)).size, 900);
  assert.equal(raw.badRows, 0);
  assert.equal(raw.reviews.size, 10_261 - 7, "the 7 empty reviews carry no text");
  const ds = preprocess(raw, { positiveThreshold: 3, userCore: 5 }, "amazon musical instruments");
  console.log(`\n${formatDatasetCard(ds.card)}`);
  // Ratings 4 and 5: 2,084 + 6,938 = 9,022 positive rows (README counts).
  assert.equal(ds.card.filtering.positivePairs, 9022);
  assert.ok(ds.card.perUser.min >= 5);
  assert.ok(
    ds.reviews.every((r) => !r.text.includes("&#34;")),
    "HTML entities decoded",
  );
});
