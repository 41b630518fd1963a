// Scoring users with a CLLM4Rec model (SPEC.md §7): one prompt per user, one forward
// pass, scores over all J items. Shared by validation during training, the evaluate
// command and recommend.
import { noGrad, tidy } from "../../engine";
import { Rng } from "../data";
import { evaluateRanking, type EvalResult, type EvalSplit, type TestExclude } from "../../shared/metrics";
import type { Cllm4RecModel } from "../model/model";
import type { Corpora } from "../train/corpora";
import type { TrainConfig } from "../train/config";
import { resolvePlan } from "../train/plan";

/** "rec": RecLLM prompts; "prerec": the collaborative LM after the user's items (LLM-PreRec). */
export type ScoreKind = "rec" | "prerec";

/** Scores [users.length, J] (training items not masked: the evaluator or caller excludes them). */
export function scoreUsers(
  model: Cllm4RecModel,
  corpora: Corpora,
  users: number[],
  rng: Rng,
  kind: ScoreKind,
  batch = 64,
  fixedOrder = false,
): Float32Array {
  const out = new Float32Array(users.length * model.J);
  noGrad(() => {
    for (let s = 0; s < users.length; s += batch) {
      const chunk = users.slice(s, s + batch);
      out.set(
        tidy(() => model.recScores(corpora.evalBatch(chunk, rng, kind, fixedOrder)).toFloat32()),
        s * model.J,
      );
    }
  });
  return out;
}

export interface ModelEvalOptions {
  /** items left out of the test ranking (validation always excludes training items only) */
  testExclude?: TestExclude;
  /** prompts list the items in their fixed order (LLM-FixOrd is scored in the order it trained on) */
  fixedOrder?: boolean;
}

/**
 * The one evaluation of a CLLM4Rec model, used by validation during training, the final
 * report, the evaluate command and reopened runs: scoring, seed and test protocol from the
 * run's config (scoring as its plan resolves it, unless given).
 */
export function evaluateRun(
  model: Cllm4RecModel,
  corpora: Corpora,
  split: EvalSplit,
  which: "val" | "test",
  config: TrainConfig,
  kind: ScoreKind = resolvePlan(config).scoring,
): Promise<EvalResult> {
  return evaluateModel(model, corpora, split, which, config.seed, kind, {
    testExclude: config.testExclude,
    fixedOrder: resolvePlan(config).fixedItemOrder,
  });
}

/** Recall@20/40 and NDCG@100 on a split; prompts shuffled by a generator fixed by (seed, split). */
export function evaluateModel(
  model: Cllm4RecModel,
  corpora: Corpora,
  split: EvalSplit,
  which: "val" | "test",
  seed: number,
  kind: ScoreKind,
  o: ModelEvalOptions = {},
): Promise<EvalResult> {
  const rng = new Rng(`${seed}:eval:${which}`);
  return evaluateRanking((users) => scoreUsers(model, corpora, users, rng, kind, 64, o.fixedOrder ?? false), split, which, {
    batchSize: 256,
    testExclude: o.testExclude,
  });
}
