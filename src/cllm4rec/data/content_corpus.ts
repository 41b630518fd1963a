// Content documents (SPEC §3): training reviews, plus item and user texts; tokenised once per dataset and tokenizer.
import type { CorpusDoc } from "./corpus_doc";
import type { Dataset } from "./dataset";
import { itemTextPromptText, reviewPromptText, userTextPromptText, type RecTokenizerLike } from "./prompts";

export interface ContentOptions {
  /** Review docs `user_i writes the following review for item_j:` (training pairs only). Default true. */
  reviews?: boolean;
  /** Item-text docs `item_j is described as:`. Default true: included alongside reviews when present. */
  itemTexts?: boolean;
  /** User-text docs `user_i is described as:`. Default true. */
  userTexts?: boolean;
}

const cache = new WeakMap<Dataset, WeakMap<RecTokenizerLike, Map<string, CorpusDoc[]>>>();

/**
 * Order: reviews (dataset order), then item texts by item, then user texts by user. Texts that are empty (or
 * encode to no tokens) are skipped. The docs are cached and shared: treat them as read-only.
 */
export function contentDocs(ds: Dataset, tok: RecTokenizerLike, options: ContentOptions = {}): CorpusDoc[] {
  const want = { reviews: options.reviews ?? true, itemTexts: options.itemTexts ?? true, userTexts: options.userTexts ?? true };
  const key = `${want.reviews}|${want.itemTexts}|${want.userTexts}`;
  let byTok = cache.get(ds);
  if (byTok === undefined) {
    byTok = new WeakMap();
    cache.set(ds, byTok);
  }
  let byKey = byTok.get(tok);
  if (byKey === undefined) {
    byKey = new Map();
    byTok.set(tok, byKey);
  }
  const hit = byKey.get(key);
  if (hit !== undefined) return hit.slice();

  const docs: CorpusDoc[] = [];
  const add = (kind: CorpusDoc["kind"], user: number, item: number, promptText: string, text: string | null): void => {
    if (text === null || text.trim() === "") return;
    const main = tok.encode(text);
    if (main.length === 0) return;
    docs.push({ kind, user, item, prompt: tok.encode(promptText), main, promptText, mainText: text });
  };
  if (want.reviews) for (const r of ds.reviews) add("review", r.user, r.item, reviewPromptText(r.user, r.item), r.text);
  if (want.itemTexts) for (let j = 0; j < ds.numItems; j++) add("itemText", -1, j, itemTextPromptText(j), ds.itemText[j]);
  if (want.userTexts) for (let i = 0; i < ds.numUsers; i++) add("userText", i, -1, userTextPromptText(i), ds.userText[i]);
  byKey.set(key, docs);
  return docs.slice();
}
