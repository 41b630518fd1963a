// The exact prompt strings of SPEC §3 and §6–7, in one place, and the token ids they encode to.

/** What corpora need from the tokenizer (src/io/rec_tokenizer.ts's RecTokenizer satisfies it). */
export interface RecTokenizerLike {
  encode(text: string): number[];
  userToken(i: number): number;
  itemToken(j: number): number;
}

export const itemWord = (j: number): string => `item_${j}`;

export const collaborativePromptText = (i: number): string => `user_${i} has interacted with`;
export const reviewPromptText = (i: number, j: number): string => `user_${i} writes the following review for item_${j}:`;
export const itemTextPromptText = (j: number): string => `item_${j} is described as:`;
export const userTextPromptText = (i: number): string => `user_${i} is described as:`;
const recSuffixText = (i: number): string => `, user_${i} will interact with`;

/** `user_i has interacted with item_a item_b, user_i will interact with`; with no items: `...with, user_i will...`. */
export function recPromptText(i: number, items: readonly number[]): string {
  const list = items.length === 0 ? "" : ` ${items.map(itemWord).join(" ")}`;
  return `${collaborativePromptText(i)}${list}${recSuffixText(i)}`;
}

/**
 * Token ids of recPromptText, built from cached per-user prefix/suffix ids plus item tokens. With the RecTokenizer's
 * rules (atomic tokens split the text, the space before one is dropped) this equals encode(recPromptText(i, items));
 * the tests check that equality. An empty list is encoded whole, since "with," then forms a single text segment.
 */
export class RecPromptEncoder {
  private readonly prefix = new Map<number, number[]>();
  private readonly suffix = new Map<number, number[]>();

  constructor(readonly tok: RecTokenizerLike) {}

  encode(i: number, items: readonly number[]): number[] {
    if (items.length === 0) return this.tok.encode(recPromptText(i, items));
    let pre = this.prefix.get(i);
    if (pre === undefined) {
      pre = this.tok.encode(collaborativePromptText(i));
      this.prefix.set(i, pre);
    }
    let suf = this.suffix.get(i);
    if (suf === undefined) {
      suf = this.tok.encode(recSuffixText(i));
      this.suffix.set(i, suf);
    }
    const out = pre.slice();
    for (const j of items) out.push(this.tok.itemToken(j));
    for (const t of suf) out.push(t);
    return out;
  }

  /** Cached ids of `user_i has interacted with`. */
  collaborativePrompt(i: number): number[] {
    let pre = this.prefix.get(i);
    if (pre === undefined) {
      pre = this.tok.encode(collaborativePromptText(i));
      this.prefix.set(i, pre);
    }
    return pre;
  }
}

const encoders = new WeakMap<RecTokenizerLike, RecPromptEncoder>();

/** One encoder (and so one prompt cache) per tokenizer. */
export function recPromptEncoder(tok: RecTokenizerLike): RecPromptEncoder {
  let e = encoders.get(tok);
  if (e === undefined) {
    e = new RecPromptEncoder(tok);
    encoders.set(tok, e);
  }
  return e;
}
