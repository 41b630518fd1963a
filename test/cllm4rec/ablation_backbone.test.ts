// LLM-Scratch and LLM-FtAll: the backbone trains with the embeddings (Scratch from the
// random init, FtAll from the given weights, vocabulary embeddings included), its weights
// are checkpointed with the tables, a reopened run gets the trained backbone back, and
// resume continues it exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createTinyGpt2Folder, randomGpt2Weights } from "../../src/io/tiny_gpt2";
import { loadGpt2Folder } from "../../src/io/gpt2_folder";
import { readSafetensors } from "../../src/io/safetensors";
import { Tensor } from "../../src/engine";
import { openRun, trainRun, loadRun, type RunContext, type RunSpec } from "../../src/cllm4rec/pipeline";
import { Trainer } from "../../src/cllm4rec/train/trainer";
import { datasetCorpora } from "../../src/cllm4rec/train/corpora";
import { PAPER_DEFAULTS, type TrainConfig } from "../../src/cllm4rec/train/config";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-ablation-bb-"));
process.env.CLLM4REC_CACHE = path.join(tmp, "cache");
const modelDir = path.join(tmp, "backbone");
createTinyGpt2Folder(modelDir, { nLayer: 1, nEmbd: 32, nHead: 1, nPositions: 128, seed: 3 });
const quiet = () => {};
const spec = (over: Partial<TrainConfig>): RunSpec => ({
  data: { kind: "synthetic", numUsers: 40, numItems: 24, seed: 5 },
  dataOptions: {},
  modelDir,
  config: { ...PAPER_DEFAULTS, contentEpochs: 1, alternatingEpochs: 1, finetuneEpochs: 1, contentFraction: 0.1, seed: 7, ...over },
});
const given = loadGpt2Folder(modelDir).weights;

/** A trainer for an opened run, as trainRun builds one (outDir: checkpoints there). */
function trainerFor(ctx: RunContext, outDir?: string): Trainer {
  const corpora = datasetCorpora(ctx.dataset, ctx.tokenizer, { batchSize: 20, maxTokens: 128, lengthAware: true });
  return new Trainer({ model: ctx.model, corpora, split: ctx.dataset, config: ctx.spec.config, outDir, log: quiet, backboneRef: modelDir });
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("llm-ftall finetunes every backbone weight; the run reopens with the trained backbone", async () => {
  const out = path.join(tmp, "ftall");
  await trainRun(spec({ ablation: "llm-ftall" }), out, { log: quiet });
  const ctx = await loadRun(out, { log: quiet });
  assert.equal(ctx.backbone.trainable, true);
  for (const [n, t] of ctx.backbone.namedParameters()) {
    const d = maxDiff(t.toFloat32(), given.get(n)!.data);
    assert.ok(d > 0, `${n} did not change`);
  }
  const wte = ctx.backbone.wte.toFloat32();
  // far from a fresh random init: FtAll starts from the given weights
  assert.ok(maxDiff(wte, given.get("wte.weight")!.data) < 0.05);
});

test("llm-scratch starts from the random init (not the given weights) and trains it", async () => {
  const ctx = await openRun(spec({ ablation: "llm-scratch" }), { log: quiet });
  const init = randomGpt2Weights({ ...ctx.backbone.config, activation: "gelu_new" }, 7);
  assert.equal(maxDiff(ctx.backbone.wte.toFloat32(), init.get("wte.weight")!.data), 0);
  assert.ok(maxDiff(ctx.backbone.wte.toFloat32(), given.get("wte.weight")!.data) > 0);
  await trainerFor(ctx).run({
    untilEpoch: 1,
  });
  assert.ok(maxDiff(ctx.backbone.wte.toFloat32(), init.get("wte.weight")!.data) > 0, "wte did not train");
  const ln = ctx.backbone
    .namedParameters()
    .find(([n]) => n === "h.0.ln_1.weight")![1]
    .toFloat32();
  assert.ok(
    ln.some((x) => x !== 1),
    "LayerNorm did not train",
  );
});

test("llm-ftall resume after an interruption equals the uninterrupted run (backbone included)", async () => {
  const s = spec({ ablation: "llm-ftall", finetuneEpochs: 1 });
  const run = async (dir: string, until?: number, resume = false) => {
    const ctx = await openRun(s, { log: quiet });
    const t = trainerFor(ctx, dir);
    if (resume) assert.equal(t.resume(), true);
    await t.run(until ? { untilEpoch: until } : {});
    return ctx;
  };
  const a = await run(path.join(tmp, "ft-a"));
  await run(path.join(tmp, "ft-b"), 2);
  const b = await run(path.join(tmp, "ft-b"), undefined, true);
  const pa = a.model.parameters(),
    pb = b.model.parameters();
  assert.equal(pa.length, 4 + a.backbone.parameters().length);
  pa.forEach((t, i) => {
    assert.deepEqual(pb[i].toFloat32(), t.toFloat32(), `parameter ${i} (${t.name || "table"}) differs`);
  });
});

test("llm-ftall finetuning starts from the backbone of the best L-side epoch, checkpointed with its tables", async () => {
  const s = spec({ ablation: "llm-ftall", alternatingEpochs: 2 });
  const ctx = await openRun(s, { log: quiet });
  const dir = path.join(tmp, "ft-best");
  const t = trainerFor(ctx, dir);
  const r = await t.run({ untilEpoch: 3 }); // content 1, alternating 1-2: finetuning is next
  const e = r.best.collabEpoch;
  assert.ok(e >= 2, `best L-side epoch ${e}`);
  const named = ctx.backbone.namedParameters();
  const trained = named.map(([, w]) => w.toFloat32());
  // the part of the best L-side epoch holds that epoch's backbone beside the tables
  const part = readSafetensors(path.join(dir, "checkpoint", `best-collab-e${String(e).padStart(4, "0")}.safetensors`));
  for (const [i, [n]] of named.entries()) {
    assert.ok(part.tensors.has(`backbone.${n}`), `backbone.${n} missing`);
    if (e === 3) assert.deepEqual(part.tensors.get(`backbone.${n}`)!.data, trained[i], `backbone.${n}`);
  }
  const saved = named.map(([n]) => part.tensors.get(`backbone.${n}`)!.data as Float32Array);
  // whatever the backbone holds when finetuning starts, it comes back from that part
  for (const [, w] of named) w.copyFrom(Tensor.zeros([...w.shape], { device: w.device }));
  (t as unknown as { enterFinetune(): void }).enterFinetune();
  for (const [i, [n, w]] of named.entries()) assert.deepEqual(w.toFloat32(), saved[i], `${n} was not restored`);
  assert.deepEqual(ctx.model.collab.item.toFloat32(), part.tensors.get("item")!.data);
});
