import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultTokenizer, loadBpeTokenizer, RecTokenizer, type TextTokenizer } from "../../src/io/tokenizer";
import { BYTE_TO_CHAR } from "../../src/io/byte_unicode";

test("defaultTokenizer is GPT-2: known ids, deterministic, round-trips", () => {
  const t = defaultTokenizer();
  assert.equal(t.vocabSize, 50257);
  assert.deepEqual(t.encode("Hello world"), [15496, 995]);
  // " the" is 262 and "!" is 0 in GPT-2's encoder.json.
  assert.deepEqual(t.encode(" the"), [262]);
  assert.deepEqual(t.encode("!"), [0]);
  const s = "It's 2024 — naïve café, ünïcødé 🙂  spaces\n\ttabs";
  assert.deepEqual(t.encode(s), defaultTokenizer().encode(s));
  assert.equal(t.decode(t.encode(s)), s);
  // Special-token text is plain text, never the end-of-text id.
  assert.ok(!t.encode("a<|endoftext|>b").includes(50256));
  assert.throws(() => t.decode([50257]), /defaultTokenizer\.decode: token id 50257/);
});

test("byte-to-unicode table is a bijection onto 256 distinct chars", () => {
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  assert.equal(BYTE_TO_CHAR[32], "Ġ"); // space -> U+0120, as in GPT-2's vocabulary
  assert.equal(BYTE_TO_CHAR[10], "Ċ");
  assert.equal(BYTE_TO_CHAR[65], "A");
});

test("loadBpeTokenizer on a hand-made vocabulary merges by rank", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bpe-"));
  const vocab: Record<string, number> = {};
  BYTE_TO_CHAR.forEach((c, i) => {
    vocab[c] = i;
  });
  vocab.ab = 256;
  vocab.Ġa = 257;
  vocab.Ġab = 258;
  vocab.bc = 259;
  fs.writeFileSync(path.join(dir, "vocab.json"), JSON.stringify(vocab));
  // "b c" ranks before "a b": "abc" -> a + bc; " ab": "a b" outranks "Ġ a", so Ġ + ab (no "Ġ ab" merge).
  fs.writeFileSync(path.join(dir, "merges.txt"), "#version: 0.2\nb c\na b\nĠ a\nĠa b\n");
  const t = loadBpeTokenizer(path.join(dir, "vocab.json"), path.join(dir, "merges.txt"));
  assert.equal(t.vocabSize, 260);
  const code = (s: string) => s.charCodeAt(0);
  assert.deepEqual(t.encode("abc"), [code("a"), 259]);
  assert.deepEqual(t.encode("ab ab"), [256, 32, 256]);
  assert.equal(t.decode([256, 258]), "ab ab");
  fs.writeFileSync(path.join(dir, "merges2.txt"), "#version: 0.2\nĠ a\na b\nĠa b\n");
  const t2 = loadBpeTokenizer(path.join(dir, "vocab.json"), path.join(dir, "merges2.txt"));
  assert.deepEqual(t2.encode("ab ab"), [256, 258]);
  fs.writeFileSync(path.join(dir, "bad.txt"), "#version: 0.2\na b c\n");
  assert.throws(() => loadBpeTokenizer(path.join(dir, "vocab.json"), path.join(dir, "bad.txt")), /bad\.txt line 2/);
  delete vocab.Ġ;
  fs.writeFileSync(path.join(dir, "gap.json"), JSON.stringify(vocab));
  assert.throws(
    () => loadBpeTokenizer(path.join(dir, "gap.json"), path.join(dir, "merges.txt")),
    /gap\.json.*(no token with id|single-byte)/,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

// A tiny base vocabulary: every character is one token, ids = char codes (< 128).
class CharTokenizer implements TextTokenizer {
  readonly vocabSize = 128;
  calls = 0;
  encode(text: string): number[] {
    this.calls++;
    return [...text].map((c) => c.charCodeAt(0));
  }
  decode(ids: number[]): string {
    return String.fromCharCode(...ids);
  }
}

test("RecTokenizer ids: users then items after the base vocabulary", () => {
  const r = new RecTokenizer(new CharTokenizer(), 3, 5);
  assert.equal(r.totalVocab, 136);
  assert.equal(r.vocabSize, 136);
  assert.equal(r.userToken(0), 128);
  assert.equal(r.userToken(2), 130);
  assert.equal(r.itemToken(0), 131);
  assert.equal(r.itemToken(4), 135);
  assert.throws(() => r.userToken(3), RangeError);
  assert.throws(() => r.userToken(-1), RangeError);
  assert.throws(() => r.itemToken(5), RangeError);
  assert.throws(() => r.itemToken(1.5), RangeError);
  assert.ok(r.isUser(130) && !r.isUser(131) && !r.isUser(127));
  assert.ok(r.isItem(131) && r.isItem(135) && !r.isItem(136) && !r.isItem(130));
  assert.equal(r.userOf(129), 1);
  assert.equal(r.itemOf(133), 2);
  assert.throws(() => r.userOf(131), /RecTokenizer\.userOf: token 131/);
  assert.throws(() => r.itemOf(12), /RecTokenizer\.itemOf: token 12/);
});

test("RecTokenizer.encode: atomic tokens, one separating space dropped", () => {
  const r = new RecTokenizer(new CharTokenizer(), 3, 6);
  const ids = (s: string) => [...s].map((c) => c.charCodeAt(0));
  const U1 = r.userToken(1),
    I3 = r.itemToken(3),
    I5 = r.itemToken(5);
  assert.deepEqual(r.encode("user_1 has item_3 item_5, user_1 will"), [U1, ...ids(" has"), I3, I5, ...ids(","), U1, ...ids(" will")]);
  // Two spaces: only one is the separator.
  assert.deepEqual(r.encode("a  item_3"), [...ids("a "), I3]);
  // Not atomic: glued to other word characters.
  assert.deepEqual(r.encode("xuser_1 user_12b"), ids("xuser_1 user_12b"));
  assert.deepEqual(r.encode("(item_5)"), [...ids("("), I5, ...ids(")")]);
  assert.throws(() => r.encode("user_3 likes"), /RecTokenizer\.encode: token user_3 out of range/);
  assert.throws(() => r.encode("item_99999999999999999999"), /item_99999999999999999999 out of range/);
  assert.throws(() => r.decode([r.totalVocab]), RangeError);
});

test("RecTokenizer with GPT-2: the canonical prompt and round-trips", () => {
  const base = defaultTokenizer();
  const r = new RecTokenizer(base, 10, 10);
  const U1 = r.userToken(1),
    I3 = r.itemToken(3),
    I5 = r.itemToken(5);
  const s = "user_1 has interacted with item_3 item_5, user_1 will interact with";
  const one = (w: string) => {
    const e = base.encode(w);
    assert.equal(e.length, 1, `${JSON.stringify(w)} is one GPT-2 token`);
    return e[0];
  };
  const expected = [U1, one(" has"), one(" interacted"), one(" with"), I3, I5, one(","), U1, one(" will"), one(" interact"), one(" with")];
  assert.deepEqual(r.encode(s), expected);
  for (const c of [
    s,
    "user_9 writes the following review for item_0: Great strings, café-quality tone!",
    "item_7 is described as: a 12-string guitar",
    "item_2",
    "Plain text only, no atomic tokens.  Double  spaces\nnewline",
    "item_1 item_2 item_3 item_4",
  ]) {
    assert.equal(r.decode(r.encode(c)), c);
  }
});

test("RecTokenizer caches repeated segments", () => {
  const base = new CharTokenizer();
  const r = new RecTokenizer(base, 100, 100);
  for (let i = 0; i < 100; i++) r.encode(`user_${i} has interacted with item_${i} item_${(i * 7) % 100}`);
  // Segments: " has interacted with" only (single spaces between items are dropped).
  assert.equal(base.calls, 1);
});
