// The trainer's view of the data layer: batches of token ids for one pass of each corpus.
import { type Dataset, Rng, collaborativeDocs, contentDocs, recSamples, makeBatches, collaborativePromptText } from "../data";
import { recPromptEncoder } from "../data/prompts";
import type { RecTokenizer } from "../../io/tokenizer";
import type { PromptBatch } from "../model/model";
import type { PromptMainBatch } from "../model/batch_layout";

/** Batches for one pass over each corpus, built from the given generator. */
export interface Corpora {
  collab(rng: Rng, fixedOrder: boolean): PromptMainBatch[];
  content(rng: Rng, fraction: number): PromptMainBatch[];
  rec(rng: Rng, target: "all" | "heldout", fixedOrder: boolean): { batch: PromptBatch; targets: number[][] }[];
  /**
   * one prompt per user, in the given order: RecLLM prompts, or collaborative-LM prompts for
   * LLM-PreRec; each user's items shuffled, or in their fixed order when fixedOrder (LLM-FixOrd)
   */
  evalBatch(users: number[], rng: Rng, kind: "rec" | "prerec", fixedOrder?: boolean): PromptBatch;
}

/** A generator whose shuffle keeps the order: the fixed item order of LLM-FixOrd. */
class KeepOrder extends Rng {
  override shuffle<T>(a: T[]): T[] {
    return a;
  }
}

/** Right-pads prompt-only rows into a batch, keeping each row's last maxTokens tokens. */
export function promptBatch(rows: readonly (readonly number[])[], maxTokens: number): PromptBatch {
  const kept = rows.map((r) => (r.length > maxTokens ? r.slice(r.length - maxTokens) : r));
  const B = kept.length;
  const Tp = Math.max(1, ...kept.map((r) => r.length));
  const promptIds = new Int32Array(B * Tp),
    promptMask = new Int32Array(B * Tp),
    promptLengths = new Int32Array(B);
  kept.forEach((r, b) => {
    if (r.length === 0) throw new RangeError(`promptBatch: row ${b} is empty`);
    promptLengths[b] = r.length;
    for (let t = 0; t < r.length; t++) {
      promptIds[b * Tp + t] = r[t];
      promptMask[b * Tp + t] = 1;
    }
  });
  return { size: B, promptLen: Tp, promptIds, promptMask, promptLengths };
}

export function datasetCorpora(
  ds: Dataset,
  tok: RecTokenizer,
  opts: { batchSize: number; maxTokens: number; lengthAware: boolean },
): Corpora {
  const batchOpts = (rng: Rng) => ({ rng, lengthAware: opts.lengthAware, maxTotal: opts.maxTokens });
  const recEnc = recPromptEncoder(tok);
  // tokenised on first use: evaluation, recommendation and LLM-CF never need it
  let content: ReturnType<typeof contentDocs> | null = null;
  const contentCorpus = () => {
    content ??= contentDocs(ds, tok);
    if (content.length === 0)
      throw new Error(
        `dataset ${ds.name} has no text (reviews, item or user texts): the content LLM has nothing to learn; use --ablation llm-cf`,
      );
    return content;
  };
  return {
    collab(rng, fixedOrder) {
      const docs = collaborativeDocs(ds, tok, fixedOrder ? new KeepOrder(0) : rng);
      return makeBatches(docs, opts.batchSize, batchOpts(rng));
    },
    content(rng, fraction) {
      const all = contentCorpus();
      const docs = fraction >= 1 ? all : rng.sample(all, Math.max(1, Math.round(fraction * all.length)));
      return makeBatches(docs, opts.batchSize, batchOpts(rng));
    },
    rec(rng, target, fixedOrder) {
      const samples = recSamples(ds, tok, rng, { target });
      if (fixedOrder) {
        // keep the masks random but list the shown items in a fixed (ascending) order
        for (const s of samples) {
          const shown = ds.train[s.user].filter((j) => !s.masked.includes(j));
          (s as { prompt: readonly number[] }).prompt = recEnc.encode(s.user, shown);
        }
      }
      return makeBatches(samples, opts.batchSize, batchOpts(rng)).map((b) => ({ batch: b, targets: b.targets }));
    },
    evalBatch(users, rng, kind, fixedOrder = false) {
      const rows = users.map((i) => {
        // LLM-FixOrd trained on the items in their stored (ascending) order: score it in that order
        const items = fixedOrder ? ds.train[i].slice() : rng.shuffle(ds.train[i].slice());
        if (kind === "rec") return recEnc.encode(i, items);
        // the collaborative LM's next-item distribution after the user's items (LLM-PreRec)
        return [...tok.encode(collaborativePromptText(i)), ...items.map((j) => tok.itemToken(j))];
      });
      return promptBatch(rows, opts.maxTokens);
    },
  };
}
