// Public surface of `cllm4rec/nn`: the GPT-2 model on the engine, Adam(W), clipping, schedule, generation.
export { Gpt2 } from "./gpt2";
export type { Gpt2Config, Gpt2Block, WeightMap, PromptCache } from "./gpt2";
export { Adam } from "./adam";
export type { AdamOptions } from "./adam";
export { gradNorm, clipGradNorm } from "./clip";
export { lmLoss } from "./lm";
export { cosineLr } from "./schedule";
export type { CosineSchedule } from "./schedule";
export { greedyGenerate, nextTokenLogits } from "./generate";
