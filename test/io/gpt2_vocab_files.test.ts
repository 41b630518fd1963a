// vocab.json + merges.txt derived from the bundled BPE ranks: identical to GPT-2's own
// files (when ../shared/data has them), and a tokenizer read back from them encodes like
// the built-in one (always).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gpt2VocabFiles, writeGpt2VocabFiles } from "../../src/io/gpt2_vocab_files";
import { defaultTokenizer, loadBpeTokenizer } from "../../src/io/tokenizer";
import { sharedFile } from "./shared_data";

test("derived merges and vocabulary equal GPT-2 encoder.json / vocab.bpe", (t) => {
  const enc = sharedFile("gpt2-tokenizer", "encoder.json");
  const bpe = sharedFile("gpt2-tokenizer", "vocab.bpe");
  if (!enc.file || !bpe.file) {
    t.skip(enc.skip ?? bpe.skip);
    return;
  }
  const { vocab, merges } = gpt2VocabFiles();
  const ref = fs
    .readFileSync(bpe.file, "utf8")
    .split("\n")
    .slice(1)
    .filter(Boolean)
    .map((l) => l.split(" "));
  assert.equal(merges.length, ref.length);
  for (let i = 0; i < ref.length; i++) assert.deepEqual(merges[i], ref[i], `merge ${i}`);
  assert.deepEqual(vocab, JSON.parse(fs.readFileSync(enc.file, "utf8")));
});

test("a tokenizer loaded from the written files encodes and decodes like the built-in one", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-vocab-"));
  try {
    writeGpt2VocabFiles(dir);
    const ours = loadBpeTokenizer(path.join(dir, "vocab.json"), path.join(dir, "merges.txt"));
    assert.equal(ours.vocabSize, 50257);
    const ref = defaultTokenizer();
    for (const s of [
      "Hello world",
      "It's a 12-string guitar; the strings don't buzz.",
      "naïve café 日本語 🎸",
      "  spaces\n\nnewlines\t",
      "user_1 item_3 <|endoftext|>",
    ]) {
      assert.deepEqual(ours.encode(s), ref.encode(s), JSON.stringify(s));
      assert.equal(ours.decode(ours.encode(s)), s);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
