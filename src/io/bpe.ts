// GPT-2 byte-level BPE over a Hugging Face vocab.json + merges.txt pair.
import * as fs from "node:fs";
import type { TextTokenizer } from "./tokenizer";
import { BYTE_TO_CHAR, CHAR_TO_BYTE } from "./byte_unicode";

// GPT-2's pre-tokenisation: contractions, letters, digits, other symbols, whitespace runs.
const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const CACHE_LIMIT = 200_000;

export class BpeTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  private readonly idOf: Map<string, number>;
  private readonly tokenOf: string[];
  private readonly rank: Map<string, number>;
  private readonly cache = new Map<string, number[]>();
  private readonly utf8 = new TextEncoder();
  private readonly utf8Out = new TextDecoder("utf-8");

  constructor(vocab: Record<string, number>, merges: Array<[string, string]>, source = "BpeTokenizer") {
    this.idOf = new Map();
    let maxId = -1;
    for (const [tok, id] of Object.entries(vocab)) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`${source}: vocab entry ${JSON.stringify(tok)} has invalid id ${id}`);
      this.idOf.set(tok, id);
      if (id > maxId) maxId = id;
    }
    this.vocabSize = maxId + 1;
    this.tokenOf = new Array(this.vocabSize);
    for (const [tok, id] of this.idOf) {
      if (this.tokenOf[id] !== undefined) throw new Error(`${source}: id ${id} is used by two tokens`);
      this.tokenOf[id] = tok;
    }
    for (let id = 0; id < this.vocabSize; id++) {
      if (this.tokenOf[id] === undefined)
        throw new Error(`${source}: vocab has no token with id ${id} (ids must be 0..${maxId} without gaps)`);
    }
    for (const c of BYTE_TO_CHAR) {
      if (!this.idOf.has(c)) throw new Error(`${source}: vocab lacks the single-byte token ${JSON.stringify(c)}`);
    }
    this.rank = new Map();
    merges.forEach(([a, b], i) => {
      const key = a + " " + b;
      if (!this.rank.has(key)) this.rank.set(key, i);
    });
  }

  encode(text: string): number[] {
    if (typeof text !== "string") throw new TypeError(`BpeTokenizer.encode: expected a string, got ${typeof text}`);
    const out: number[] = [];
    for (const m of text.matchAll(PRETOKENIZE)) {
      const word = m[0];
      let ids = this.cache.get(word);
      if (ids === undefined) {
        ids = this.encodeWord(word);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
    return out;
  }

  decode(ids: number[]): string {
    const bytes: number[] = [];
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`BpeTokenizer.decode: token id ${id} outside 0..${this.vocabSize - 1}`);
      }
      for (const ch of this.tokenOf[id]) {
        const b = CHAR_TO_BYTE.get(ch);
        // Added tokens (e.g. "<|endoftext|>") are plain characters outside the byte alphabet.
        if (b === undefined) for (const x of this.utf8.encode(ch)) bytes.push(x);
        else bytes.push(b);
      }
    }
    return this.utf8Out.decode(new Uint8Array(bytes));
  }

  private encodeWord(word: string): number[] {
    let parts: string[] = [];
    for (const b of this.utf8.encode(word)) parts.push(BYTE_TO_CHAR[b]);
    while (parts.length > 1) {
      let best = Infinity;
      let bestKey = "";
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = this.rank.get(parts[i] + " " + parts[i + 1]);
        if (r !== undefined && r < best) {
          best = r;
          bestKey = parts[i] + " " + parts[i + 1];
        }
      }
      if (best === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && parts[i] + " " + parts[i + 1] === bestKey) {
          merged.push(parts[i] + parts[i + 1]);
          i++;
        } else merged.push(parts[i]);
      }
      parts = merged;
    }
    return parts.map((p) => {
      const id = this.idOf.get(p);
      if (id === undefined) throw new Error(`BpeTokenizer.encode: merged symbol ${JSON.stringify(p)} is not in the vocabulary`);
      return id;
    });
  }
}

/** Reads a Hugging Face vocab.json (or OpenAI encoder.json) and merges.txt (or vocab.bpe). */
export function loadBpeTokenizer(vocabJsonPath: string, mergesPath: string): BpeTokenizer {
  let vocab: unknown;
  try {
    vocab = JSON.parse(fs.readFileSync(vocabJsonPath, "utf8"));
  } catch (e) {
    throw new Error(`loadBpeTokenizer: cannot read vocabulary ${vocabJsonPath}: ${(e as Error).message}`);
  }
  if (vocab === null || typeof vocab !== "object" || Array.isArray(vocab)) {
    throw new Error(`loadBpeTokenizer: ${vocabJsonPath} is not a JSON object of token -> id`);
  }
  let text: string;
  try {
    text = fs.readFileSync(mergesPath, "utf8");
  } catch (e) {
    throw new Error(`loadBpeTokenizer: cannot read merges ${mergesPath}: ${(e as Error).message}`);
  }
  const merges: Array<[string, string]> = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "");
    if (line === "" || (i === 0 && line.startsWith("#version"))) continue;
    const pair = line.split(" ");
    if (pair.length !== 2 || pair[0] === "" || pair[1] === "") {
      throw new Error(`loadBpeTokenizer: ${mergesPath} line ${i + 1} is not "a b": ${JSON.stringify(line)}`);
    }
    merges.push([pair[0], pair[1]]);
  }
  return new BpeTokenizer(vocab as Record<string, number>, merges, `loadBpeTokenizer(${vocabJsonPath})`);
}
