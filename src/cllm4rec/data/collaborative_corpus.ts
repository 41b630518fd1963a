// Collaborative documents (SPEC §3): `user_i has interacted with` + the user's training items, freshly shuffled.
import type { CorpusDoc } from "./corpus_doc";
import type { Dataset } from "./dataset";
import { collaborativePromptText, itemWord, recPromptEncoder, type RecTokenizerLike } from "./prompts";
import type { Rng } from "../../shared/rng";

/** One doc per user with >= 1 training item; item order is re-drawn on every call (stochastic item reordering). */
export function collaborativeDocs(ds: Dataset, tok: RecTokenizerLike, rng: Rng): CorpusDoc[] {
  const enc = recPromptEncoder(tok);
  const docs: CorpusDoc[] = [];
  for (let i = 0; i < ds.numUsers; i++) {
    const items = ds.train[i];
    if (items.length === 0) continue;
    const order = rng.shuffle(items.slice());
    docs.push({
      kind: "collaborative",
      user: i,
      item: -1,
      prompt: enc.collaborativePrompt(i),
      main: order.map((j) => tok.itemToken(j)),
      promptText: collaborativePromptText(i),
      mainText: order.map(itemWord).join(" "),
    });
  }
  return docs;
}
