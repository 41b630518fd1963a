// Public surface of `cllm4rec/nn`: the GPT-2 model on the engine, Adam, greedy generation.
export { Gpt2 } from "./gpt2";
export type { Gpt2Config, Gpt2Block, WeightMap, PromptCache } from "./gpt2";
export { Adam } from "./adam";
export type { AdamOptions } from "./adam";
export { greedyGenerate, nextTokenLogits } from "./generate";
