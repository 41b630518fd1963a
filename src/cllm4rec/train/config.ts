// Training hyper-parameters. Defaults follow SPEC.md (the paper and the authors' code);
// the "quick" preset shortens only the epoch counts so the default run fits in minutes.

import type { TestExclude } from "../../shared/metrics";
export type { TestExclude };

// llm-scratch: backbone from random init, trained with the embeddings; llm-ftall: the
// given backbone finetuned entirely (vocabulary embeddings included)
export type Ablation = "none" | "llm-cf" | "fixord" | "prerec" | "llm-scratch" | "llm-ftall";
/** how the mutual regulariser's sum over token occurrences is scaled: as the authors (sum) or /B (mean) */
export type RegScale = "sum" | "mean";
/** the content optimizer in finetuning: a fresh Adam at lrFinetune (authors) or the pretraining one kept */
export type ContentOptFinetune = "fresh" | "keep";

export interface TrainConfig {
  seed: number;
  batchSize: number; // 20
  lambdaC: number; // mutual-regularisation strength, 1.0
  lrPretrain: number; // 1e-3 (both sides during pretraining; the content side throughout)
  lrFinetune: number; // 1e-4 (the RecLLM embeddings)
  contentEpochs: number; // content-only pretraining epochs, 10
  alternatingEpochs: number; // L-step pass + C-step pass per epoch, 100
  finetuneEpochs: number; // RecLLM epochs (each followed by a C-step pass), 150
  recTarget: "all" | "heldout"; // multi-hot of all training items (code) or the masked ones (paper)
  patience: number; // finetuning early stopping on the validation score; 0 = off
  evalEvery: number; // finetuning epochs between validation evaluations
  maxTokens: number; // prompt + main truncation, 1024 (capped by the backbone's positions)
  lengthAware: boolean; // bucket documents by length to cut padding
  ablation: Ablation;
  /** fraction of the content corpus used per C-step pass (1 = all); a speed knob for CPU runs */
  contentFraction: number;
  regScale: RegScale;
  testExclude: TestExclude;
  contentOptFinetune: ContentOptFinetune;
  /** steps between host reads of the loss; 0 (or absent, in runs saved before it) = 1 on CPU, 16 on CUDA */
  syncEvery?: number;
  /** backbone dropout in training (embedding sum, residual branches); 0.1 = HF GPT-2 / the authors */
  dropout: number;
}

export const PAPER_DEFAULTS: TrainConfig = {
  seed: 42,
  batchSize: 20,
  lambdaC: 1.0,
  lrPretrain: 1e-3,
  lrFinetune: 1e-4,
  contentEpochs: 10,
  alternatingEpochs: 100,
  finetuneEpochs: 150,
  recTarget: "all",
  patience: 0,
  evalEvery: 1,
  maxTokens: 1024,
  lengthAware: true,
  ablation: "none",
  contentFraction: 1,
  regScale: "sum",
  testExclude: "train",
  contentOptFinetune: "fresh",
  syncEvery: 0,
  dropout: 0.1,
};

/**
 * Short schedule for the default synthetic run on a 2-core CPU (minutes, not days). Its
 * lambda_c and dropout were chosen on MovieLens-100k validation (README, "λ_c sweep"): with
 * the random tiny backbone the content side learns nothing, so the authors' strength
 * (lambda_c 1 under reg-scale sum) pulls the collaborative embeddings to popularity level,
 * and dropout slows the 8 finetuning epochs. 0.05 keeps the regulariser on and scores within
 * 2% of lambda_c = 0 on validation (0.1 and above score lower).
 */
export const QUICK_PRESET: Partial<TrainConfig> = {
  contentEpochs: 1,
  alternatingEpochs: 3,
  finetuneEpochs: 8,
  lrFinetune: 1e-3,
  patience: 3,
  contentFraction: 0.2,
  lambdaC: 0.05,
  dropout: 0,
};

export function validateConfig(c: TrainConfig): void {
  const pos = (k: keyof TrainConfig) => {
    const v = c[k] as number;
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`config: ${k} must be a positive number, got ${v}`);
  };
  const nonneg = (k: keyof TrainConfig) => {
    const v = c[k] as number;
    if (!(Number.isInteger(v) && v >= 0)) throw new RangeError(`config: ${k} must be a non-negative integer, got ${v}`);
  };
  pos("batchSize");
  pos("lrPretrain");
  pos("lrFinetune");
  pos("maxTokens");
  pos("evalEvery");
  nonneg("contentEpochs");
  nonneg("alternatingEpochs");
  nonneg("finetuneEpochs");
  nonneg("patience");
  if (c.syncEvery !== undefined && !(Number.isInteger(c.syncEvery) && c.syncEvery >= 0))
    throw new RangeError(`config: syncEvery must be a non-negative integer (0 = auto), got ${c.syncEvery}`);
  if (!(c.lambdaC >= 0)) throw new RangeError(`config: lambdaC must be >= 0, got ${c.lambdaC}`);
  if (!(c.contentFraction > 0 && c.contentFraction <= 1))
    throw new RangeError(`config: contentFraction must be in (0, 1], got ${c.contentFraction}`);
  if (!Number.isInteger(c.batchSize)) throw new RangeError(`config: batchSize must be an integer, got ${c.batchSize}`);
  if (!["all", "heldout"].includes(c.recTarget)) throw new RangeError(`config: recTarget must be all or heldout, got ${c.recTarget}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new RangeError(`config: dropout must be in [0, 1), got ${c.dropout}`);
  if (!["sum", "mean"].includes(c.regScale)) throw new RangeError(`config: regScale must be sum or mean, got ${c.regScale}`);
  if (!["train", "train+val"].includes(c.testExclude))
    throw new RangeError(`config: testExclude must be train or train+val, got ${c.testExclude}`);
  if (!["fresh", "keep"].includes(c.contentOptFinetune))
    throw new RangeError(`config: contentOptFinetune must be fresh or keep, got ${c.contentOptFinetune}`);
  if (!["none", "llm-cf", "fixord", "prerec", "llm-scratch", "llm-ftall"].includes(c.ablation))
    throw new RangeError(`config: unknown ablation ${c.ablation}`);
}

/** What runs saved before these fields existed did: filled in when such a run is reopened or resumed. */
export const LEGACY_PROTOCOL: Pick<TrainConfig, "regScale" | "testExclude" | "contentOptFinetune" | "dropout"> = {
  regScale: "mean",
  testExclude: "train+val",
  contentOptFinetune: "keep",
  dropout: 0,
};

export function withLegacyProtocol(c: TrainConfig): TrainConfig {
  // missing fields go last, so a config that has them all keeps its key order (reports compare as text)
  const out: Record<string, unknown> = { ...c };
  for (const [k, v] of Object.entries(LEGACY_PROTOCOL)) if (!(k in out)) out[k] = v;
  return out as unknown as TrainConfig;
}
