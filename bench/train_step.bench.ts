// One CLLM4Rec training step on a synthetic batch of documents, exactly as the trainer runs
// it: loss, loss.item(), backward, Adam step, zeroGrad. L-step (collaborative), C-step
// (content), both, and a RecLLM step (J = 500). The backbone is the tiny one on the CPU and
// GPT-2 small (random weights) on CUDA, with B = 20 (the paper's batch) and, on CUDA, B = 160
// (the authors' global batch); CLLM4REC_BENCH_STEP_BACKBONE=tiny|gpt2-small and
// CLLM4REC_BENCH_STEP_BATCHES=20,160 override. The torch reference (trainStepReference) runs
// the same steps on the same batches in PyTorch: FP32 eager (the authors' computation), and
// on CUDA BF16 autocast, eager and with scaled_dot_product_attention.
import { tidy, backward } from "../src/engine";
import { Gpt2, type Gpt2Config } from "../src/nn/gpt2";
import { Adam } from "../src/nn/adam";
import { tinyGpt2Weights, TINY_GPT2_DEFAULTS } from "../src/io/tiny_gpt2";
import { Cllm4RecModel, type PromptBatch, type Side } from "../src/cllm4rec/model/model";
import type { PromptMainBatch } from "../src/cllm4rec/model/batch_layout";
import { type Ctx, type SuiteResult, type Row, time, sync, row, lcg } from "./common";
import { GPT2_SMALL, gpt2SmallWeights } from "./gpt2.bench";

const PROMPT = 8,
  MAIN = 30;
const USERS = 1000,
  ITEMS = 500;
const LAMBDA = 1;

/** A right-padded prompt+main batch: prompt 6..8 tokens, main 24..30 tokens. */
function docBatch(side: Side, N: number, rnd: () => number, BATCH: number): PromptMainBatch {
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

function recBatch(N: number, rnd: () => number, BATCH: number): { batch: PromptBatch; targets: number[][] } {
  const b = docBatch("collab", N, rnd, BATCH);
  const targets = Array.from({ length: BATCH }, () => Array.from({ length: 10 }, () => Math.floor(rnd() * ITEMS)));
  return {
    batch: { size: BATCH, promptLen: PROMPT, promptIds: b.promptIds, promptMask: b.promptMask, promptLengths: b.promptLengths },
    targets,
  };
}

type Backbone = "tiny" | "gpt2-small";

/** The step bench's backbone and batch sizes for a device (environment overrides). */
export function stepShapes(ctx: Ctx): { backbone: Backbone; cfg: Gpt2Config; batches: number[] } {
  const env = process.env.CLLM4REC_BENCH_STEP_BACKBONE;
  if (env !== undefined && env !== "tiny" && env !== "gpt2-small")
    throw new Error(`CLLM4REC_BENCH_STEP_BACKBONE must be tiny or gpt2-small, got '${env}'`);
  const backbone: Backbone = (env as Backbone | undefined) ?? (ctx.device === "cuda" ? "gpt2-small" : "tiny");
  const t = TINY_GPT2_DEFAULTS;
  const cfg: Gpt2Config =
    backbone === "tiny"
      ? { vocabSize: 50257, nPositions: t.nPositions, nEmbd: t.nEmbd, nLayer: t.nLayer, nHead: t.nHead, layerNormEpsilon: 1e-5 }
      : GPT2_SMALL;
  const list = process.env.CLLM4REC_BENCH_STEP_BATCHES ?? (ctx.device === "cuda" ? "20,160" : "20");
  const batches = list.split(",").map((x) => Number(x.trim()));
  if (batches.some((b) => !Number.isInteger(b) || b < 1 || b > 4096))
    throw new Error(`CLLM4REC_BENCH_STEP_BATCHES must list batch sizes in 1..4096, got '${list}'`);
  return { backbone, cfg, batches };
}

interface StepBatches {
  collab: PromptMainBatch;
  content: PromptMainBatch;
  rec: { batch: PromptBatch; targets: number[][] };
}

/** The batches of one batch size: the same for ours and the torch reference (seeded). */
function batchesFor(N: number, B: number): StepBatches {
  const rnd = lcg(2 + B);
  return { collab: docBatch("collab", N, rnd, B), content: docBatch("content", N, rnd, B), rec: recBatch(N, rnd, B) };
}

const stepKey = (step: string, backbone: Backbone, B: number) => `${step} ${backbone} B=${B}`;
const STEPS = [
  ["L", "L-step (collab, J=500 head)"],
  ["C", "C-step (content, vocab head)"],
  ["rec", "RecLLM step (J=500)"],
] as const;
const PEER_MODES = [
  ["fp32", ""],
  ["bf16", " vs torch bf16 autocast"],
  ["bf16-sdpa", " vs torch bf16 autocast + sdpa"],
] as const;

export async function run(ctx: Ctx): Promise<SuiteResult> {
  const { backbone: which, cfg, batches } = stepShapes(ctx);
  const t0 = Date.now();
  const weights = which === "tiny" ? tinyGpt2Weights(TINY_GPT2_DEFAULTS) : gpt2SmallWeights(cfg);
  // our default precision per device, as the CLI runs it: BF16 frozen weights on CUDA, fp32 on the CPU
  const backbone = new Gpt2(cfg, weights, ctx.device, { dtype: ctx.device === "cuda" ? "bf16" : "f32" });
  const loadMs = Date.now() - t0;
  const model = new Cllm4RecModel(backbone, { numUsers: USERS, numItems: ITEMS }, lcg(1));
  const collabOpt = new Adam([model.collab.user, model.collab.item], { lr: 1e-3 });
  const contentOpt = new Adam([model.content.user, model.content.item], { lr: 1e-3 });

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
  const heavy = which === "gpt2-small";
  const opts = { iterations: ctx.quick ? 2 : heavy ? 5 : 10, timeMs: ctx.quick || heavy ? 0 : 1000, warmupIterations: 1 };
  const rows: Row[] = [];
  const skipped: string[] = [];
  const add = (name: string, fn: () => void): void => {
    if (ctx.timeLeft() < 10) {
      skipped.push(name);
      return;
    }
    const r = time(
      name,
      () => {
        fn();
        sync();
      },
      opts,
    );
    const metrics = { "steps/s": 1 / (r.ms / 1000), "ms/step": r.ms };
    rows.push(row(name, r, metrics, "steps/s"));
    // the same timing against each further peer mode (a row per comparison; CUDA only)
    if (ctx.device === "cuda")
      for (const [, suffix] of PEER_MODES.slice(1)) if (!name.includes("+")) rows.push(row(name + suffix, r, metrics, "steps/s"));
  };
  for (const B of batches) {
    const b = batchesFor(cfg.vocabSize, B);
    const lStep = () =>
      step(
        lossOf(() => model.documentLoss("collab", b.collab, LAMBDA)),
        collabOpt,
      );
    const cStep = () =>
      step(
        lossOf(() => model.documentLoss("content", b.content, LAMBDA)),
        contentOpt,
      );
    const rStep = () =>
      step(
        lossOf(() => model.recLoss(b.rec.batch, b.rec.targets, LAMBDA)),
        collabOpt,
      );
    add(stepKey(STEPS[0][1], which, B), lStep);
    add(stepKey(STEPS[1][1], which, B), cStep);
    add(stepKey("L-step + C-step", which, B), () => {
      lStep();
      cStep();
    });
    add(stepKey(STEPS[2][1], which, B), rStep);
  }
  model.dispose();
  backbone.dispose();
  collabOpt.dispose();
  contentOpt.dispose();
  return {
    suite: "train_step",
    rows,
    notes: [
      `${which} backbone (${cfg.nLayer} layers, d ${cfg.nEmbd}, ${cfg.nHead} heads, vocab 50257; random weights, built in ${loadMs} ms, not timed); ` +
        `${USERS} users, ${ITEMS} items; batches of ${batches.join(", ")} docs, prompt ${PROMPT - 2}..${PROMPT} tokens, main ${MAIN - 6}..${MAIN} tokens; lambda ${LAMBDA}`,
      "a step = loss, loss.item(), backward, Adam step, zeroGrad (as src/cllm4rec/train/trainer.ts); RecLLM: 10 target items per user",
      `our frozen weights: ${backbone.weightDtype} (the --dtype default on ${ctx.device}); user/item tables and Adam fp32`,
      ...(ctx.device === "cuda" ? ["rows 'vs torch bf16 ...' repeat our timing against that peer mode"] : []),
      ...(skipped.length ? [`skipped (time budget): ${skipped.join(", ")}`] : []),
    ],
  };
}

/** Plain arrays for JSON. */
const plain = <T extends object>(x: T): Record<string, unknown> =>
  Object.fromEntries(Object.entries(x).map(([k, v]) => [k, ArrayBuffer.isView(v) ? Array.from(v as Int32Array) : v]));

/** The torch reference's spec: the same steps on the same batches (bench/reference/torch_bench.py train_step). */
export function trainStepReference(ctx: Ctx, res: SuiteResult): Record<string, unknown> | null {
  const { backbone: which, cfg, batches } = stepShapes(ctx);
  const have = new Set(res.rows.map((r) => r.case));
  const cases: Record<string, unknown>[] = [];
  const used: Record<string, unknown> = {};
  for (const B of batches) {
    const bs = batchesFor(cfg.vocabSize, B);
    for (const [step, label] of STEPS)
      for (const [mode, suffix] of PEER_MODES) {
        const key = stepKey(label, which, B) + suffix;
        if (!have.has(key)) continue;
        const batch = `${B}:${step}`;
        cases.push({ key, step, mode, batch });
        used[batch] =
          step === "rec" ? { batch: plain(bs.rec.batch), targets: bs.rec.targets } : plain(step === "L" ? bs.collab : bs.content);
      }
  }
  if (cases.length === 0) return null;
  return {
    iterations: ctx.quick ? 1 : which === "gpt2-small" ? 5 : 10,
    warmup: 1,
    model: { vocab: cfg.vocabSize, positions: cfg.nPositions, d: cfg.nEmbd, layers: cfg.nLayer, heads: cfg.nHead },
    users: USERS,
    items: ITEMS,
    lambda: LAMBDA,
    batches: used,
    cases,
  };
}
