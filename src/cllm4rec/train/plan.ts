// The ablation (paper §5) resolved once into what the run does: which stages and epochs
// run, which sides train, the regularisation strength, the item order of prompts and how
// users are scored. The trainer, the evaluation and the commands read this object; none
// of them tests the ablation's name. A new protocol switch is one more field here.
import type { ScoreKind } from "../predict/score";
import type { TrainConfig, Ablation } from "./config";
import type { EpochPlan } from "./state";

export interface TrainingPlan {
  ablation: Ablation;
  /** every epoch in order: content-only, alternating, finetuning */
  epochs: EpochPlan[];
  /** the content LLM trains (C-steps after the content-only stage); false in LLM-CF */
  contentSide: boolean;
  /** λ_c of L-steps, later C-steps and RecLLM steps; 0 in LLM-CF (the content-only stage always uses 0) */
  lambda: number;
  /** prompts list a user's items in a fixed (ascending) order instead of a fresh shuffle (LLM-FixOrd) */
  fixedItemOrder: boolean;
  /** RecLLM head, or the collaborative LM's next-item distribution (LLM-PreRec: no finetuning) */
  scoring: ScoreKind;
  /** the backbone's weights train with the embeddings (LLM-Scratch, LLM-FtAll); frozen otherwise */
  backboneTrains: boolean;
  /** the backbone starts from random weights instead of the given ones (LLM-Scratch) */
  backboneRandomInit: boolean;
}

export function resolvePlan(c: TrainConfig): TrainingPlan {
  const contentSide = c.ablation !== "llm-cf";
  const finetune = c.ablation !== "prerec";
  const epochs: EpochPlan[] = [];
  for (let e = 1; e <= (contentSide ? c.contentEpochs : 0); e++) epochs.push({ stage: "content", epoch: e });
  for (let e = 1; e <= c.alternatingEpochs; e++) epochs.push({ stage: "alternating", epoch: e });
  for (let e = 1; e <= (finetune ? c.finetuneEpochs : 0); e++) epochs.push({ stage: "finetune", epoch: e });
  return {
    ablation: c.ablation,
    epochs,
    contentSide,
    lambda: contentSide ? c.lambdaC : 0,
    fixedItemOrder: c.ablation === "fixord",
    scoring: finetune ? "rec" : "prerec",
    backboneTrains: c.ablation === "llm-scratch" || c.ablation === "llm-ftall",
    backboneRandomInit: c.ablation === "llm-scratch",
  };
}
