// A pretraining document: prompt ids (no loss) followed by main ids (loss), with their text forms.

export type DocKind = "collaborative" | "review" | "itemText" | "userText";

export interface CorpusDoc {
  kind: DocKind;
  /** Dense user index, or -1 (item-text docs). */
  user: number;
  /** Dense item index, or -1 (collaborative and user-text docs). */
  item: number;
  prompt: readonly number[];
  main: readonly number[];
  promptText: string;
  mainText: string;
}

/** A rec-finetuning sample (SPEC §6): prompt only; targets are item indices. */
export interface RecSample {
  kind: "rec";
  user: number;
  prompt: readonly number[];
  promptText: string;
  /** Items hidden from the prompt this time. */
  masked: number[];
  /** Items the multinomial loss puts mass on: all training items ('all') or only the masked ones ('heldout'). */
  target: number[];
}

/** A prediction prompt (SPEC §7). */
export interface EvalPrompt {
  kind: "eval";
  user: number;
  prompt: readonly number[];
  promptText: string;
  /** Items to score −∞ (already known to the model). */
  exclude: number[];
  /** Held-out items of the split being evaluated. */
  truth: number[];
}
