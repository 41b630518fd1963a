// Text tokenizers: the interface every tokenizer implements, and the built-in GPT-2 one.
import * as r50k from "gpt-tokenizer/cjs/encoding/r50k_base";

export interface TextTokenizer {
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: number[]): string;
}

export { loadBpeTokenizer, BpeTokenizer } from "./bpe";
export { RecTokenizer } from "./rec_tokenizer";

// Special tokens such as "<|endoftext|>" in user text are encoded as plain text, never as 50256.
const plainText = { disallowedSpecial: new Set<string>() };

class BuiltinGpt2Tokenizer implements TextTokenizer {
  readonly vocabSize = 50257;
  encode(text: string): number[] {
    if (typeof text !== "string") throw new TypeError(`defaultTokenizer.encode: expected a string, got ${typeof text}`);
    return r50k.encode(text, plainText);
  }
  decode(ids: number[]): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`defaultTokenizer.decode: token id ${id} outside 0..${this.vocabSize - 1}`);
      }
    }
    return r50k.decode(ids);
  }
}

let builtin: BuiltinGpt2Tokenizer | undefined;

/** GPT-2's byte-level BPE (50,257 tokens) from the bundled gpt-tokenizer package; no files, no network. */
export function defaultTokenizer(): TextTokenizer {
  if (builtin === undefined) builtin = new BuiltinGpt2Tokenizer();
  return builtin;
}
