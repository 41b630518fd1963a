// Flat memory: 200+ training steps and 20 evaluations must not grow the addon's live
// buffers at all, nor the process RSS beyond a small bound (freeing is deterministic;
// the trainer lets the event loop turn so freed handles' finalizers run).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { native } from "../../src/engine";
import { createTinyGpt2Folder } from "../../src/io/tiny_gpt2";
import { openRun } from "../../src/cllm4rec/pipeline";
import { Trainer } from "../../src/cllm4rec/train/trainer";
import { datasetCorpora } from "../../src/cllm4rec/train/corpora";
import { PAPER_DEFAULTS } from "../../src/cllm4rec/train/config";

test("memory stays flat over 200+ steps and 20 evaluations", { timeout: 10 * 60 * 1000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-mem-"));
  process.env.CLLM4REC_CACHE = path.join(tmp, "cache");
  const modelDir = path.join(tmp, "backbone");
  createTinyGpt2Folder(modelDir, { nLayer: 1, nEmbd: 64, nHead: 1, nPositions: 128, seed: 3 });
  const config = {
    ...PAPER_DEFAULTS,
    contentEpochs: 0,
    alternatingEpochs: 1,
    finetuneEpochs: 20,
    batchSize: 4,
    contentFraction: 0.02,
    lrFinetune: 1e-3,
    seed: 1,
  };
  const ctx = await openRun(
    { data: { kind: "synthetic", numUsers: 60, numItems: 60, seed: 2 }, dataOptions: {}, modelDir, config },
    { log: () => {} },
  );
  const corpora = datasetCorpora(ctx.dataset, ctx.tokenizer, { batchSize: config.batchSize, maxTokens: 128, lengthAware: true });
  const samples: { epoch: number; rss: number; live: number }[] = [];
  const log = (s: string) => {
    const m = /^\[finetune (\d+)\]/.exec(s);
    if (m) samples.push({ epoch: Number(m[1]), rss: process.memoryUsage().rss, live: native().stats().liveBuffers });
  };
  const trainer = new Trainer({
    model: ctx.model,
    corpora,
    split: ctx.dataset,
    config,
    outDir: path.join(tmp, "run"),
    log,
    backboneRef: modelDir,
  });
  const r = await trainer.run();
  const steps = r.history.length; // epochs
  const evals = r.history.filter((h) => h.val).length;
  const st = JSON.parse(fs.readFileSync(path.join(tmp, "run", "state.json"), "utf8")).state.steps;
  assert.ok(st.rec + st.collab + st.content >= 200, `only ${JSON.stringify(st)} steps`);
  assert.equal(evals, 20);
  assert.equal(samples.length, 20, `${steps} epochs logged`);
  const warm = samples[4];
  const last = samples[samples.length - 1];
  for (const s of samples.slice(4))
    assert.equal(s.live, warm.live, `live buffers grew to ${s.live} (from ${warm.live}) by finetune epoch ${s.epoch}`);
  const growMb = (last.rss - warm.rss) / 2 ** 20;
  console.log(
    `memory: RSS ${(warm.rss / 2 ** 20).toFixed(0)} -> ${(last.rss / 2 ** 20).toFixed(0)} MB over finetune epochs 5..20; live buffers ${warm.live}`,
  );
  assert.ok(growMb < 6, `RSS grew ${growMb.toFixed(1)} MB between finetune epochs 5 and 20`);
  trainer.dispose();
});
