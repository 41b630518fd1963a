// Public surface of `cllm4rec/run`: train a run, reopen a run folder, use it.
export { openRun, Run, UnknownUserError } from "./run";
export type { OpenRunOptions, Recommendation, ScoredItem, RecommendOptions, Exclude, ScoreMatrix, Matrix, Embeddings } from "./run";
export { train, resolveConfig } from "./train";
export type { TrainOptions } from "./train";
export { PAPER_DEFAULTS, QUICK_PRESET } from "../cllm4rec/train/config";
export type { TrainConfig, Ablation } from "../cllm4rec/train/config";
export type { TrainReport } from "../cllm4rec/pipeline";
