// One CLLM4Rec training step with the tiny default backbone on a synthetic batch of 20
// documents, exactly as the trainer runs it: loss, loss.item(), backward, Adam step,
// zeroGrad. L-step (collaborative), C-step (content), both, and a RecLLM step (J = 500).
import { tidy, backward } from "../src/engine";
import { Gpt2, type Gpt2Config } from "../src/nn/gpt2";
import { Adam } from "../src/nn/adam";
import { tinyGpt2Weights, TINY_GPT2_DEFAULTS } from "../src/io/tiny_gpt2";
import { Cllm4RecModel, type PromptBatch, type Side } from "../src/cllm4rec/model/model";
import type { PromptMainBatch } from "../src/cllm4rec/model/batch_layout";
import { type Ctx, type SuiteResult, type Row, time, sync, row, lcg } from "./common";

const BATCH = 20,
  PROMPT = 8,
  MAIN = 30;
const USERS = 1000,
  ITEMS = 500;
const LAMBDA = 1;

/** A right-padded prompt+main batch: prompt 6..8 tokens, main 24..30 tokens. */
function docBatch(side: Side, N: number, rnd: () => number): PromptMainBatch {
  const promptIds = new Int32Array(BATCH * PROMPT),
    promptMask = new Int32Array(BATCH * PROMPT);
  const mainIds = new Int32Array(BATCH * MAIN),
    mainMask = new Int32Array(BATCH * MAIN);
  const promptLengths: number[] = [],
    mainLengths: number[] = [];
  const word = () => 200 + Math.floor(rnd() * 40000);
  const user = () => N + Math.floor(rnd() * USERS);
  const item = () => N + USERS + Math.floor(rnd() * ITEMS);
  for (let r = 0; r < BATCH; r++) {
    const lp = PROMPT - Math.floor(rnd() * 3),
      lm = MAIN - Math.floor(rnd() * 7);
    promptLengths.push(lp);
    mainLengths.push(lm);
    for (let t = 0; t < lp; t++) {
      // "user_i has interacted with" / "user_i wrote the following review for item_j:"
      promptIds[r * PROMPT + t] = t === 0 ? user() : side === "content" && t === lp - 2 ? item() : word();
      promptMask[r * PROMPT + t] = 1;
    }
    for (let t = 0; t < lm; t++) {
      mainIds[r * MAIN + t] = side === "collab" ? item() : word();
      mainMask[r * MAIN + t] = 1;
    }
  }
  return { size: BATCH, promptLen: PROMPT, mainLen: MAIN, promptIds, promptMask, mainIds, mainMask, promptLengths, mainLengths };
}

function recBatch(N: number, rnd: () => number): { batch: PromptBatch; targets: number[][] } {
  const b = docBatch("collab", N, rnd);
  const targets = Array.from({ length: BATCH }, () => Array.from({ length: 10 }, () => Math.floor(rnd() * ITEMS)));
  return {
    batch: { size: BATCH, promptLen: PROMPT, promptIds: b.promptIds, promptMask: b.promptMask, promptLengths: b.promptLengths },
    targets,
  };
}

export async function run(ctx: Ctx): Promise<SuiteResult> {
  const t = TINY_GPT2_DEFAULTS;
  const cfg: Gpt2Config = {
    vocabSize: 50257,
    nPositions: t.nPositions,
    nEmbd: t.nEmbd,
    nLayer: t.nLayer,
    nHead: t.nHead,
    layerNormEpsilon: 1e-5,
  };
  const backbone = new Gpt2(cfg, tinyGpt2Weights(t), ctx.device);
  const model = new Cllm4RecModel(backbone, { numUsers: USERS, numItems: ITEMS }, lcg(1));
  const collabOpt = new Adam([model.collab.user, model.collab.item], { lr: 1e-3 });
  const contentOpt = new Adam([model.content.user, model.content.item], { lr: 1e-3 });
  const rnd = lcg(2);
  const collab = docBatch("collab", cfg.vocabSize, rnd);
  const content = docBatch("content", cfg.vocabSize, rnd);
  const rec = recBatch(cfg.vocabSize, rnd);

  const step = (loss: () => number, opt: Adam): void => {
    tidy(loss);
    opt.step();
    opt.zeroGrad();
  };
  const lossOf = (fn: () => { loss: import("../src/engine").Tensor }) => (): number => {
    const { loss } = fn();
    const v = loss.item(); // the trainer reads every loss (progress, NaN check)
    backward(loss);
    return v;
  };
  const lStep = () =>
    step(
      lossOf(() => model.documentLoss("collab", collab, LAMBDA)),
      collabOpt,
    );
  const cStep = () =>
    step(
      lossOf(() => model.documentLoss("content", content, LAMBDA)),
      contentOpt,
    );
  const rStep = () =>
    step(
      lossOf(() => model.recLoss(rec.batch, rec.targets, LAMBDA)),
      collabOpt,
    );

  const opts = { iterations: ctx.quick ? 2 : 10, timeMs: ctx.quick ? 0 : 1000, warmupIterations: 1 };
  const rows: Row[] = [];
  const add = (name: string, fn: () => void, steps: number): void => {
    const r = time(
      name,
      () => {
        fn();
        sync();
      },
      opts,
    );
    rows.push(row(name, r, { "steps/s": steps / (r.ms / 1000), "ms/step": r.ms / steps }, "steps/s"));
  };
  add("L-step (collab, J=500 head)", lStep, 1);
  add("C-step (content, vocab head)", cStep, 1);
  add(
    "L-step + C-step",
    () => {
      lStep();
      cStep();
    },
    1,
  );
  add("RecLLM step (J=500)", rStep, 1);
  model.dispose();
  backbone.dispose();
  collabOpt.dispose();
  contentOpt.dispose();
  return {
    suite: "train_step",
    rows,
    notes: [
      `tiny backbone (${t.nLayer} layers, d ${t.nEmbd}, ${t.nHead} heads, vocab 50257); ${USERS} users, ${ITEMS} items; batch ${BATCH} docs, ` +
        `prompt ${PROMPT - 2}..${PROMPT} tokens, main ${MAIN - 6}..${MAIN} tokens; lambda ${LAMBDA}`,
      "a step = loss, loss.item(), backward, Adam step, zeroGrad (as src/cllm4rec/train/trainer.ts); RecLLM: 10 target items per user",
    ],
  };
}
