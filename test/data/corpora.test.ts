import { test } from "node:test";
import * as assert from "node:assert/strict";
import { defaultTokenizer, RecTokenizer } from "../../src/io/tokenizer";
import { collaborativeDocs } from "../../src/cllm4rec/data/collaborative_corpus";
import { contentDocs } from "../../src/cllm4rec/data/content_corpus";
import { recSamples } from "../../src/cllm4rec/data/rec_samples";
import { Rng } from "../../src/shared/rng";
import { handDataset } from "./helpers";

// Users with n = 1, 4, 5, 9, 10, 23 training items over 30 items.
const sizes = [1, 4, 5, 9, 10, 23];
const train = sizes.map((n, u) => Array.from({ length: n }, (_, k) => (k * 7 + u) % 30).sort((a, b) => a - b));
const ds = handDataset(train, 30, {
  val: [[29], [], [28], [27], [26], [25]].map((v, u) => v.filter((j) => !train[u].includes(j))),
  test: [[], [24], [23], [22], [21], [20]].map((v, u) => v.filter((j) => !train[u].includes(j))),
  reviews: [
    { user: 1, item: train[1][0], text: "Warm tone and easy action." },
    { user: 2, item: train[2][1], text: "Great strings!" },
  ],
  itemText: Array.from({ length: 30 }, (_, j) => (j === 3 ? "A spruce top guitar" : j === 4 ? "   " : null)),
  userText: ["age 24, male, technician", null, "", null, null, null],
});
const tok = new RecTokenizer(defaultTokenizer(), ds.numUsers, ds.numItems);
const N = defaultTokenizer().vocabSize;

test("collaborativeDocs: SPEC prompt text, ids equal the tokenizer, main = training items in a fresh order", () => {
  const rng = new Rng(1);
  const a = collaborativeDocs(ds, tok, rng);
  const b = collaborativeDocs(ds, tok, rng);
  assert.equal(a.length, ds.numUsers);
  for (const d of a) {
    assert.equal(d.kind, "collaborative");
    assert.equal(d.promptText, `user_${d.user} has interacted with`);
    assert.deepEqual(d.prompt, tok.encode(d.promptText));
    assert.equal(d.prompt[0], N + d.user);
    assert.deepEqual(d.main, tok.encode(d.mainText));
    assert.deepEqual(
      [...d.main].map((t) => t - N - ds.numUsers).sort((x, y) => x - y),
      ds.train[d.user],
    );
    assert.equal(tok.decode([...d.prompt, ...d.main]), `${d.promptText} ${d.mainText}`);
  }
  // User 5 has 23 items: two draws in the same order would be a 1 in 23! coincidence.
  assert.notDeepEqual(a[5].main, b[5].main);
});

test("contentDocs: review, item-text and user-text prompts exactly as in SPEC; empty texts skipped; cached", () => {
  const docs = contentDocs(ds, tok);
  assert.deepEqual(
    docs.map((d) => [d.kind, d.promptText, d.mainText]),
    [
      ["review", `user_1 writes the following review for item_${train[1][0]}:`, "Warm tone and easy action."],
      ["review", `user_2 writes the following review for item_${train[2][1]}:`, "Great strings!"],
      ["itemText", "item_3 is described as:", "A spruce top guitar"],
      ["userText", "user_0 is described as:", "age 24, male, technician"],
    ],
  );
  for (const d of docs) {
    assert.deepEqual(d.prompt, tok.encode(d.promptText));
    assert.deepEqual(d.main, defaultTokenizer().encode(d.mainText));
  }
  // Hand check of one prompt: user token, then BPE of the words, then the item token, then ':'.
  const base = defaultTokenizer();
  assert.deepEqual(docs[0].prompt, [
    N + 1,
    ...base.encode(" writes the following review for"),
    N + ds.numUsers + train[1][0],
    ...base.encode(":"),
  ]);
  assert.deepEqual(
    contentDocs(ds, tok, { itemTexts: false, userTexts: false }).map((d) => d.kind),
    ["review", "review"],
  );
  assert.deepEqual(
    contentDocs(ds, tok, { reviews: false }).map((d) => d.kind),
    ["itemText", "userText"],
  );
  assert.equal(contentDocs(ds, tok)[0].main, docs[0].main, "second call reuses the tokenised docs");
});

test("recSamples: mask max(1, floor(0.2 n)) for n = 1, 4, 5, 9, 10, 23; SPEC prompt text; fresh masks", () => {
  const rng = new Rng(2);
  const s1 = recSamples(ds, tok, rng);
  const s2 = recSamples(ds, tok, rng);
  assert.deepEqual(
    s1.map((s) => s.masked.length),
    [1, 1, 1, 1, 2, 4],
  );
  for (const s of s1) {
    const n = ds.train[s.user].length;
    const shown = s.promptText.match(/item_\d+/g)?.map((w) => Number(w.slice(5))) ?? [];
    assert.equal(shown.length, n - s.masked.length);
    assert.deepEqual(
      [...shown, ...s.masked].sort((a, b) => a - b),
      ds.train[s.user],
    );
    const list = shown.map((j) => `item_${j}`).join(" ");
    const expected =
      n === 1
        ? `user_${s.user} has interacted with, user_${s.user} will interact with`
        : `user_${s.user} has interacted with ${list}, user_${s.user} will interact with`;
    assert.equal(s.promptText, expected);
    assert.deepEqual(s.prompt, tok.encode(expected));
    assert.deepEqual(s.target, ds.train[s.user]);
  }
  assert.notDeepEqual(s1[5].masked, s2[5].masked);
  const held = recSamples(ds, tok, new Rng(2), { target: "heldout" });
  for (const s of held) assert.deepEqual(s.target, s.masked);
  assert.throws(() => recSamples(ds, tok, rng, { target: "bad" as "all" }), /recSamples.*target/);
});
