import { test } from "node:test";
import * as assert from "node:assert/strict";
import { readAmazonReviews } from "../../src/cllm4rec/data/read_amazon";
import { readMovielens } from "../../src/cllm4rec/data/read_movielens";
import { readGeneric } from "../../src/cllm4rec/data/read_generic";
import { readLines } from "../../src/cllm4rec/data/line_reader";
import { tempDir, writeFile } from "./helpers";
import { reviewKey } from "../../src/cllm4rec/data/raw_data";

const amazonLines = [
  '{"reviewerID": "A1", "asin": "B1", "overall": 5.0, "reviewText": "Great &#34;strings&#34; &amp; pegs", "summary": "ok", "unixReviewTime": 100}',
  '{"reviewerID": "A1", "asin": "B2", "overall": 2.0, "reviewText": "", "summary": "Too quiet"}',
  '{"reviewerID": "A2", "asin": "B1", "overall": 4.0, "reviewText": "fine" ',
  "",
  '{"reviewerID": "A2", "overall": 4.0, "reviewText": "no asin"}',
  '{"reviewerID": "A3", "asin": "B3", "overall": "five", "reviewText": "bad rating"}',
  `{'reviewerID': 'A4', 'asin': 'B1', 'overall': 3.0, 'reviewText': u'it\\'s ok, mentions item_7', 'helpful': [0, 0], 'verified': True}`,
];

test("readAmazonReviews: JSON and Python-dict lines, bad lines counted with their line numbers", async () => {
  const dir = tempDir("amazon");
  const file = writeFile(dir, "reviews_Test_5.json", amazonLines.join("\n") + "\n");
  const raw = await readAmazonReviews(file);
  assert.equal(raw.name, "reviews_Test_5");
  assert.deepEqual(raw.interactions, [
    { user: "A1", item: "B1", rating: 5, time: 100 },
    { user: "A1", item: "B2", rating: 2, time: null },
    { user: "A4", item: "B1", rating: 3, time: null },
  ]);
  assert.equal(raw.badRows, 3);
  assert.deepEqual(
    raw.issues.map((i) => i.line),
    [3, 5, 6],
  );
  assert.match(raw.issues[0].reason, /bad JSON/);
  assert.match(raw.issues[1].reason, /missing field asin/);
  assert.match(raw.issues[2].reason, /non-numeric rating/);
  assert.equal(raw.issues[0].file, file);
  assert.equal(raw.reviews.get(reviewKey("A1", "B1")), 'Great "strings" & pegs');
  // Empty body falls back to the summary; literal item_<n> in text is broken up so it cannot become an atomic token.
  assert.equal(raw.reviews.get(reviewKey("A1", "B2")), "Too quiet");
  assert.equal(raw.reviews.get(reviewKey("A4", "B1")), "it's ok, mentions item 7");
});

test("readAmazonReviews: gzip by extension and by magic bytes give the same rows", async () => {
  const dir = tempDir("amazon-gz");
  const plain = await readAmazonReviews(writeFile(dir, "a.json", amazonLines.join("\n")));
  const gz = await readAmazonReviews(writeFile(dir, "b.json.gz", amazonLines.join("\n"), true));
  const magic = await readAmazonReviews(writeFile(dir, "c.json", amazonLines.join("\n"), true));
  for (const r of [gz, magic]) {
    assert.deepEqual(r.interactions, plain.interactions);
    assert.deepEqual([...r.reviews], [...plain.reviews]);
    assert.deepEqual(
      r.issues.map((i) => i.line),
      [3, 5, 6],
    );
  }
});

test("readAmazonReviews: 2023 jsonl fields (user_id, parent_asin, rating, text, timestamp in ms)", async () => {
  const dir = tempDir("amazon23");
  const file = writeFile(
    dir,
    "Musical_Instruments.jsonl",
    [
      '{"rating": 5.0, "title": "Nice", "text": "Love it", "asin": "V1", "parent_asin": "P1", "user_id": "U1", "timestamp": 1588687728923}',
      '{"rating": 1.0, "title": "Bad", "text": "", "asin": "V2", "parent_asin": "P2", "user_id": "U1", "timestamp": 1588687728000}',
    ].join("\r\n") + "\r\n",
  );
  const raw = await readAmazonReviews(file);
  assert.deepEqual(raw.interactions, [
    { user: "U1", item: "P1", rating: 5, time: 1588687728 },
    { user: "U1", item: "P2", rating: 1, time: 1588687728 },
  ]);
  assert.equal(raw.reviews.get(reviewKey("U1", "P1")), "Love it");
  assert.equal(raw.reviews.get(reviewKey("U1", "P2")), "Bad");
  assert.equal(raw.badRows, 0);
});

test("strict mode throws an Error naming the file and line", async () => {
  const dir = tempDir("strict");
  const file = writeFile(dir, "r.json", amazonLines.join("\n"));
  await assert.rejects(
    readAmazonReviews(file, { strict: true }),
    (e: Error) => e.message.includes(`${file}:3:`) && /readAmazonReviews/.test(e.message),
  );
  const csv = writeFile(dir, "i.csv", "user,item,rating\n1,2,5\n1,3\n");
  await assert.rejects(
    readGeneric({ interactions: csv }, { strict: true }),
    (e: Error) => e.message.includes(`${csv}:3:`) && /expected 3 fields/.test(e.message),
  );
});

test("readMovielens 100k: tab-separated u.data, latin-1 u.item titles, u.user profiles, bad lines counted", async () => {
  const dir = tempDir("ml100k");
  writeFile(dir, "u.data", "1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\t4\n2\t20\tx\t1\n\n2\t30\t4\t881250951\n");
  // "Á köldum klaka" in latin-1: 0xC1 and 0xF6 are single bytes.
  const item = Buffer.concat([
    Buffer.from("10|Toy Story (1995)|01-Jan-1995||http://x|0|0\n20|", "latin1"),
    Buffer.from([0xc1]),
    Buffer.from(" k", "latin1"),
    Buffer.from([0xf6]),
    Buffer.from("ldum klaka (Cold Fever) (1994)|01-Jan-1994||http://y|0|0\n", "latin1"),
  ]);
  writeFile(dir, "u.item", item);
  writeFile(dir, "u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n");
  const raw = await readMovielens(dir);
  assert.deepEqual(raw.interactions, [
    { user: "1", item: "10", rating: 5, time: 881250949 },
    { user: "1", item: "20", rating: 3, time: 881250950 },
    { user: "2", item: "30", rating: 4, time: 881250951 },
  ]);
  assert.equal(raw.badRows, 2);
  assert.deepEqual(
    raw.issues.map((i) => i.line),
    [3, 4],
  );
  assert.match(raw.issues[0].reason, /expected 4 fields/);
  assert.match(raw.issues[1].reason, /non-numeric rating/);
  assert.equal(raw.itemText.get("10"), "Toy Story (1995)");
  assert.equal(raw.itemText.get("20"), "Á köldum klaka (Cold Fever) (1994)");
  assert.equal(raw.userText.get("1"), "age 24, male, technician");
  assert.equal(raw.userText.get("2"), "age 53, female, other");
});

test('readMovielens 1M: "::" separated ratings.dat, movies.dat, users.dat with decoded codes', async () => {
  const dir = tempDir("ml1m");
  writeFile(dir, "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n1::914\n");
  writeFile(dir, "movies.dat", Buffer.from("1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::Caf\xe9 (1996)::Comedy\n", "latin1"));
  writeFile(dir, "users.dat", "1::F::1::10::48067\n");
  const raw = await readMovielens(dir);
  assert.deepEqual(
    raw.interactions.map((r) => [r.user, r.item, r.rating]),
    [
      ["1", "1193", 5],
      ["1", "661", 3],
    ],
  );
  assert.deepEqual(
    raw.issues.map((i) => i.line),
    [3],
  );
  assert.equal(raw.itemText.get("661"), "Café (1996)");
  assert.equal(raw.userText.get("1"), "age under 18, female, K-12 student");
  await assert.rejects(readMovielens(tempDir("empty")), /readMovielens.*none of u.data/);
});

test("readGeneric CSV: header aliases, quoted fields with commas, quotes and newlines, bad rows", async () => {
  const dir = tempDir("generic");
  const interactions = writeFile(
    dir,
    "inter.csv",
    'user_id,item_id,ratings,timestamp\n"u1","i1",5.0,10\nu1,i2,4,\nu2,"i,3",abc,1\nu2,i4\nu3,i5,,\n',
  );
  const itemText = writeFile(dir, "items.csv", 'item,title\ni1,"A ""quoted"", title"\ni2,"two\nlines"\n"i,3",comma id\n');
  const reviews = writeFile(dir, "reviews.tsv", "user\titem\treview\nu1\ti1\tGood one\n");
  const userText = writeFile(dir, "users.jsonl", '{"user": "u1", "text": "likes guitars"}\n{"text": "nobody"}\n');
  const raw = await readGeneric({ interactions, itemText, userText, reviews });
  assert.deepEqual(raw.interactions, [
    { user: "u1", item: "i1", rating: 5, time: 10 },
    { user: "u1", item: "i2", rating: 4, time: null },
  ]);
  // an empty rating cell is a bad row (issue 10), not an unrated positive
  assert.deepEqual(
    raw.issues.map((i) => [i.file, i.line]),
    [
      [interactions, 4],
      [interactions, 5],
      [interactions, 6],
      [userText, 2],
    ],
  );
  assert.equal(raw.itemText.get("i1"), 'A "quoted", title');
  assert.equal(raw.itemText.get("i2"), "two lines");
  assert.equal(raw.itemText.get("i,3"), "comma id");
  assert.equal(raw.reviews.get(reviewKey("u1", "i1")), "Good one");
  assert.equal(raw.userText.get("u1"), "likes guitars");
});

test("readGeneric: a record after a multi-line quoted field keeps its own starting line number", async () => {
  const dir = tempDir("generic-lines");
  const file = writeFile(dir, "i.csv", 'user;item;rating\nu1;"a\nb";5\nu2;i2;oops\n');
  const raw = await readGeneric({ interactions: file });
  assert.equal(raw.interactions[0].item, "a\nb");
  assert.deepEqual(
    raw.issues.map((i) => i.line),
    [4],
  );
});

test("readGeneric: missing required column is a clear Error", async () => {
  const dir = tempDir("generic-bad");
  const file = writeFile(dir, "i.csv", "who,what\n1,2\n");
  await assert.rejects(readGeneric({ interactions: file }), /readGeneric.*header lacks column\(s\) user, item/);
  await assert.rejects(readGeneric({ interactions: writeFile(dir, "e.csv", "") }), /is empty/);
});

test("readLines keeps a lone carriage return inside a line and counts lines from 1", async () => {
  const dir = tempDir("lines");
  const file = writeFile(dir, "x.txt", "\ufeffa\rb\r\nc\n\nd");
  const lines: [string, number][] = [];
  await readLines(file, (l, n) => void lines.push([l, n]));
  assert.deepEqual(lines, [
    ["a\rb", 1],
    ["c", 2],
    ["", 3],
    ["d", 4],
  ]);
  await assert.rejects(
    readLines(`${dir}/missing.txt`, () => {}),
    /readLines.*file not found/,
  );
});

test("readAmazonReviews: a metadata file gives item titles (Python-dict and JSON lines)", async () => {
  const dir = tempDir("amazon-meta");
  const file = writeFile(dir, "r.json", '{"reviewerID": "A1", "asin": "B1", "overall": 5}\n');
  const meta = writeFile(
    dir,
    "meta.json",
    `{'asin': 'B1', 'title': 'Capo', 'description': ['Spring loaded', 'steel']}\n{"parent_asin": "B2", "title": "Strap"}\n{"title": "no id"}\n`,
    true,
  );
  const raw = await readAmazonReviews(file, { meta });
  assert.equal(raw.itemText.get("B1"), "Capo. Spring loaded steel");
  assert.equal(raw.itemText.get("B2"), "Strap");
  assert.deepEqual(
    raw.issues.map((i) => [i.file, i.line]),
    [[meta, 3]],
  );
});
