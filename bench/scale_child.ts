// One scale point of bench/scale.bench.ts, run in its own process so its peak RSS is its
// own: a CLLM4Rec model (tiny backbone) with I users and J items, timed L-steps, C-steps and
// RecLLM steps on synthetic batches as the trainer runs them (sparse targets, the chunked
// multinomial head). Prints one JSON line.
import { tidy, backward, native, HEAD_CHUNK_COLUMNS } from "../src/engine";
import { Gpt2, type Gpt2Config } from "../src/nn/gpt2";
import { Adam } from "../src/nn/adam";
import { tinyGpt2Weights, TINY_GPT2_DEFAULTS } from "../src/io/tiny_gpt2";
import { Cllm4RecModel, type Side } from "../src/cllm4rec/model/model";
import type { PromptMainBatch } from "../src/cllm4rec/model/batch_layout";
import { lcg } from "./common";

const [I, J, STEPS] = process.argv.slice(2).map(Number);
const BATCH = 20,
  PROMPT = 8,
  MAIN = 30,
  REC_TARGETS = 10;

function docBatch(side: Side, N: number, rnd: () => number): PromptMainBatch {
  const promptIds = new Int32Array(BATCH * PROMPT),
    promptMask = new Int32Array(BATCH * PROMPT);
  const mainIds = new Int32Array(BATCH * MAIN),
    mainMask = new Int32Array(BATCH * MAIN);
  const item = () => N + I + Math.floor(rnd() * J);
  for (let r = 0; r < BATCH; r++) {
    for (let t = 0; t < PROMPT; t++) {
      promptIds[r * PROMPT + t] =
        t === 0 ? N + Math.floor(rnd() * I) : side === "content" && t === PROMPT - 2 ? item() : 200 + Math.floor(rnd() * 40000);
      promptMask[r * PROMPT + t] = 1;
    }
    for (let t = 0; t < MAIN; t++) {
      mainIds[r * MAIN + t] = side === "collab" ? item() : 200 + Math.floor(rnd() * 40000);
      mainMask[r * MAIN + t] = 1;
    }
  }
  return {
    size: BATCH,
    promptLen: PROMPT,
    mainLen: MAIN,
    promptIds,
    promptMask,
    mainIds,
    mainMask,
    promptLengths: Array(BATCH).fill(PROMPT),
    mainLengths: Array(BATCH).fill(MAIN),
  };
}

function main(): void {
  const t = TINY_GPT2_DEFAULTS;
  const cfg: Gpt2Config = {
    vocabSize: 50257,
    nPositions: t.nPositions,
    nEmbd: t.nEmbd,
    nLayer: t.nLayer,
    nHead: t.nHead,
    layerNormEpsilon: 1e-5,
  };
  const t0 = Date.now();
  const backbone = new Gpt2(cfg, tinyGpt2Weights(t), "cpu");
  const model = new Cllm4RecModel(backbone, { numUsers: I, numItems: J }, lcg(1));
  const collabOpt = new Adam([model.collab.user, model.collab.item], { lr: 1e-3 });
  const contentOpt = new Adam([model.content.user, model.content.item], { lr: 1e-3 });
  const buildMs = Date.now() - t0;
  const rss: Record<string, number> = { built: process.memoryUsage.rss() }; // resident bytes after each phase
  const rnd = lcg(2);
  const N = cfg.vocabSize;
  const timeSteps = (fn: () => void): number => {
    fn(); // warm-up: first-touch of gradients and Adam state
    const s = Date.now();
    for (let k = 0; k < STEPS; k++) fn();
    return (Date.now() - s) / STEPS;
  };
  const step = (loss: () => { loss: import("../src/engine").Tensor }, opt: Adam) => {
    tidy(() => {
      const l = loss().loss;
      l.item();
      backward(l);
    });
    opt.step();
    opt.zeroGrad();
  };
  const lMs = timeSteps(() => step(() => model.documentLoss("collab", docBatch("collab", N, rnd), 1), collabOpt));
  rss.lSteps = process.memoryUsage.rss();
  const cMs = timeSteps(() => step(() => model.documentLoss("content", docBatch("content", N, rnd), 1), contentOpt));
  rss.cSteps = process.memoryUsage.rss();
  const recMs = timeSteps(() => {
    const b = docBatch("collab", N, rnd);
    const targets = Array.from({ length: BATCH }, () => Array.from({ length: REC_TARGETS }, () => Math.floor(rnd() * J)));
    step(
      () =>
        model.recLoss(
          { size: BATCH, promptLen: PROMPT, promptIds: b.promptIds, promptMask: b.promptMask, promptLengths: b.promptLengths },
          targets,
          1,
        ),
      collabOpt,
    );
  });
  rss.recSteps = process.memoryUsage.rss();
  const d = cfg.nEmbd;
  // the trained state: four tables, their gradients and two Adam moments each
  const tableBytes = 4 * 2 * (I + J) * d;
  const stats = native().stats();
  console.log(
    JSON.stringify({
      I,
      J,
      steps: STEPS,
      buildMs,
      lMs,
      cMs,
      recMs,
      tableBytes,
      stateBytes: 4 * tableBytes,
      // one RecLLM batch's sparse targets (rowPtr + columns) and the head's one chunk of scores
      batchBytes: 4 * (BATCH + 1 + BATCH * REC_TARGETS) + 4 * BATCH * Math.min(J, HEAD_CHUNK_COLUMNS),
      liveCpuBytes: stats.cpuBytes,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      rssBytes: rss,
    }),
  );
}

main();
