// Rec-finetuning samples (SPEC §6): mask max(1, ⌊0.2·n⌋) of a user's n training items; fresh masks every call.
import type { RecSample } from "./corpus_doc";
import type { Dataset } from "./dataset";
import { recPromptEncoder, recPromptText, type RecTokenizerLike } from "./prompts";
import type { Rng } from "../../shared/rng";

export interface RecSampleOptions {
  /** 'all' (authors' code, default): every training item; 'heldout' (paper's equation): the masked ones only. */
  target?: "all" | "heldout";
  /** Fraction of items masked (default 0.2); at least one is always masked. */
  maskFraction?: number;
}

export const maskedCount = (n: number, fraction = 0.2): number => Math.max(1, Math.floor(fraction * n));

export function recSamples(ds: Dataset, tok: RecTokenizerLike, rng: Rng, options: RecSampleOptions = {}): RecSample[] {
  const target = options.target ?? "all";
  if (target !== "all" && target !== "heldout")
    throw new RangeError(`recSamples (src/cllm4rec/data/rec_samples.ts): target must be 'all' or 'heldout', got ${JSON.stringify(target)}`);
  const enc = recPromptEncoder(tok);
  const out: RecSample[] = [];
  for (let i = 0; i < ds.numUsers; i++) {
    const items = ds.train[i];
    const n = items.length;
    if (n === 0) continue;
    const order = rng.shuffle(items.slice());
    const m = maskedCount(n, options.maskFraction);
    const masked = order.slice(0, m).sort((a, b) => a - b);
    // The remaining items are already in random order: that is the prompt's shuffle.
    const shown = order.slice(m);
    out.push({
      kind: "rec",
      user: i,
      prompt: enc.encode(i, shown),
      promptText: recPromptText(i, shown),
      masked,
      target: target === "all" ? items.slice() : masked.slice(),
    });
  }
  return out;
}
