// A loop of L-steps or RecLLM steps exactly as the trainer runs them (loss into a
// LossWatch, backward, Adam), recording the allocator statistics after every step.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { tidy, backward, native } from "../../src/engine";
import type { NativeStats } from "../../src/engine/native";
import { Adam } from "../../src/nn/adam";
import { createTinyGpt2Folder } from "../../src/io/tiny_gpt2";
import { openRun } from "../../src/cllm4rec/pipeline";
import { datasetCorpora } from "../../src/cllm4rec/train/corpora";
import { PAPER_DEFAULTS } from "../../src/cllm4rec/train/config";
import { LossWatch } from "../../src/cllm4rec/train/loss_watch";
import { Rng } from "../../src/shared/rng";

export interface LoopResult {
  losses: number[]; // as reported by the watch, in step order
  reportedAfterPush: number[]; // how many losses had been reported after each push
  stats: NativeStats[]; // after each step
  firstGrads: Float32Array[]; // the user and item tables' gradients after step 1's backward
}

/**
 * kind: L-steps (collab documents) or RecLLM steps; dtype: the frozen weights' precision
 * ("default": the device's --dtype default, bf16 on CUDA; fp32 otherwise unless asked).
 */
export async function runLSteps(
  device: "cpu" | "cuda",
  steps: number,
  syncEvery: number,
  kind: "L" | "rec" = "L",
  dtype: "f32" | "bf16" | "default" = "f32",
): Promise<LoopResult> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-steps-"));
  process.env.CLLM4REC_CACHE = path.join(tmp, "cache");
  const modelDir = path.join(tmp, "backbone");
  createTinyGpt2Folder(modelDir, { nLayer: 1, nEmbd: 32, nHead: 1, nPositions: 64, seed: 3 });
  const config = { ...PAPER_DEFAULTS, batchSize: 4, seed: 7 };
  const ctx = await openRun(
    { data: { kind: "synthetic", numUsers: 24, numItems: 12, seed: 5 }, dataOptions: {}, modelDir, config },
    { device, dtype: dtype === "default" ? undefined : dtype },
  );
  const corpora = datasetCorpora(ctx.dataset, ctx.tokenizer, { batchSize: 4, maxTokens: 48, lengthAware: true });
  // one fixed batch, so every step after the first has the same shapes (the steady state)
  const batch = corpora.collab(new Rng(1), false)[0];
  const rec = corpora.rec(new Rng(2), "all", false)[0];
  const tables = ctx.model.collab; // L-steps and RecLLM steps both train the collaborative tables
  const opt = new Adam([tables.user, tables.item], { lr: 1e-3 });
  const losses: number[] = [];
  const reportedAfterPush: number[] = [];
  const stats: NativeStats[] = [];
  const firstGrads: Float32Array[] = [];
  const watch = new LossWatch(syncEvery, ctx.device, (_s, v) => {
    losses.push(v);
  });
  try {
    for (let i = 1; i <= steps; i++) {
      tidy(() => {
        const { loss } =
          kind === "L" ? ctx.model.documentLoss("collab", batch, 1.0, "sum") : ctx.model.recLoss(rec.batch, rec.targets, 1.0, "sum");
        watch.push(loss, i);
        backward(loss);
      });
      if (i === 1) for (const t of [tables.user, tables.item]) firstGrads.push(t.grad!.toFloat32());
      opt.step();
      opt.zeroGrad();
      reportedAfterPush.push(losses.length);
      stats.push(native().stats());
    }
    watch.flush();
  } finally {
    watch.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { losses, reportedAfterPush, stats, firstGrads };
}
