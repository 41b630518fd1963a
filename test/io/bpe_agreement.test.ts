// Our vocab.json/merges.txt BPE against the bundled gpt-tokenizer on the real GPT-2 files.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { defaultTokenizer, loadBpeTokenizer } from "../../src/io/tokenizer";
import { sharedFile } from "./shared_data";

const HAND_WRITTEN = [
  "",
  " ",
  "  ",
  "\n",
  "\n\n",
  " \t \n ",
  "Hello world",
  "hello   world",
  "trailing space ",
  "  leading",
  "I'm",
  "you're",
  "they've",
  "we'll",
  "she'd",
  "it's",
  "don't",
  "CAN'T",
  "O'Neil's",
  "'s'",
  "rock'n'roll",
  "12345",
  "3.14159",
  "1,000,000",
  "a1b2c3",
  "x = 42;",
  "2024-01-31T12:00:00Z",
  "  99 bottles",
  "naïve café",
  "über",
  "Ελληνικά",
  "русский текст",
  "日本語のテキスト",
  "中文字符",
  "한국어",
  "עברית",
  "العربية",
  "🙂",
  "👍🏽 thumbs",
  "👨‍👩‍👧",
  "e\u0301",
  "\u00a0nbsp\u00a0",
  "\u2028line sep",
  "tab\tseparated\tvalues",
  "<|endoftext|>",
  "a<|endoftext|>b",
  "user_1 has interacted with item_3",
  "&#34;quoted&#34;",
  "<b>html</b>",
  "https://example.com/path?q=1&r=2",
  "email@example.org",
  "$19.99!!!",
  "...",
  "---",
  "***",
  "?!?!",
  "()[]{}",
  "ALLCAPS WORDS",
  "camelCaseWord",
  "snake_case_word",
  "Mixed123Numbers456",
  "    four leading spaces",
  "line one\nline two\r\nline three",
  "end with newline\n",
  "multiple\n\n\nblank lines",
  "\u3000ideographic space",
];

const FRAGMENTS = [
  "the",
  "guitar",
  " strings",
  "amp",
  "'s",
  "'ll",
  " ",
  "  ",
  "\n",
  "\t",
  "123",
  "4.5",
  ",",
  ".",
  "!",
  "?",
  "é",
  "ß",
  "漢字",
  "🎸",
  "—",
  '"',
  "'",
  "(",
  ")",
  "Fender",
  "pedal",
  " tone",
  "item_7",
  "user_0",
  "   ",
  "0",
  "x",
  "Ω",
  "\u00a0",
];

function variedStrings(): string[] {
  let s = 12345;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) / (1 << 24);
  };
  const out = [...HAND_WRITTEN];
  while (out.length < 400) {
    const n = 1 + Math.floor(next() * 12);
    let str = "";
    for (let k = 0; k < n; k++) str += FRAGMENTS[Math.floor(next() * FRAGMENTS.length)];
    out.push(str);
  }
  return out;
}

test("loadBpeTokenizer(encoder.json, vocab.bpe) agrees with defaultTokenizer", (t) => {
  const enc = sharedFile("gpt2-tokenizer", "encoder.json");
  const merges = sharedFile("gpt2-tokenizer", "vocab.bpe");
  if (!enc.file || !merges.file) {
    t.skip(enc.skip ?? merges.skip);
    return;
  }
  const ours = loadBpeTokenizer(enc.file, merges.file);
  const ref = defaultTokenizer();
  assert.equal(ours.vocabSize, 50257);
  assert.deepEqual(ours.encode("Hello world"), [15496, 995]);
  let tokens = 0;
  for (const s of variedStrings()) {
    const ids = ours.encode(s);
    assert.deepEqual(ids, ref.encode(s), `encode(${JSON.stringify(s)})`);
    assert.equal(ours.decode(ids), s, `decode(encode(${JSON.stringify(s)}))`);
    tokens += ids.length;
  }
  assert.ok(tokens > 1000, `only ${tokens} tokens compared`);
});
