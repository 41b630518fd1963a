// The default backbone: pretrained once on a dataset's training text, cached by that text and
// the options, resumed after a kill, and chosen by openRun when no --model is given; run.json
// records which default a run used, and runs saved before it existed reopen with the random one.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultBackboneDir, ensureDefaultBackbone } from "../../src/cllm4rec/pretrain/default_backbone";
import { pretrain, PRETRAIN_DEFAULTS, type PretrainOptions } from "../../src/cllm4rec/pretrain/pretrain";
import { datasetTexts } from "../../src/cllm4rec/pretrain/texts";
import { loadDataset } from "../../src/cllm4rec/data";
import { readRunFile } from "../../src/cllm4rec/pipeline";
import { PAPER_DEFAULTS } from "../../src/cllm4rec/train/config";
import { loadGpt2Folder } from "../../src/io/gpt2_folder";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-default-bb-"));
const TINY: PretrainOptions = {
  ...PRETRAIN_DEFAULTS,
  layers: 1,
  d: 16,
  heads: 2,
  context: 16,
  positions: 64,
  batch: 2,
  maxSteps: 6,
  warmup: 1,
  valEvery: 3,
  checkpointEvery: 3,
  seed: 1,
};
const dataset = (seed: number) =>
  loadDataset({ kind: "synthetic", numUsers: 30, numItems: 20, seed }, { cacheDir: path.join(tmp, "data") });

test("the default backbone is pretrained once per training text and then reused", async () => {
  const ds = await dataset(4);
  const models = path.join(tmp, "models");
  const lines: string[] = [];
  const dir = ensureDefaultBackbone(ds, models, "cpu", (s) => lines.push(s), TINY);
  assert.equal(dir, defaultBackboneDir(models, datasetTexts(ds), TINY));
  assert.ok(
    lines.some((l) => /pretraining a 1-layer d=16 GPT-2 once/.test(l)),
    lines.join("\n"),
  );
  const folder = loadGpt2Folder(dir);
  assert.equal(folder.config.nEmbd, 16);
  assert.ok(!fs.existsSync(path.join(dir, "checkpoint.safetensors")), "AdamW moments kept in the cache");
  assert.ok(!fs.existsSync(`${dir}.partial`));
  const again: string[] = [];
  assert.equal(
    ensureDefaultBackbone(ds, models, "cpu", (s) => again.push(s), TINY),
    dir,
  );
  assert.deepEqual(again, [], "a cached backbone is not pretrained again");
  // other text (another synthetic seed) or other options: another backbone
  assert.notEqual(defaultBackboneDir(models, datasetTexts(await dataset(5)), TINY), dir);
  assert.notEqual(defaultBackboneDir(models, datasetTexts(ds), { ...TINY, maxSteps: 7 }), dir);
});

test("a pretraining killed part-way resumes to the same weights", async () => {
  const ds = await dataset(6);
  const whole = ensureDefaultBackbone(ds, path.join(tmp, "whole"), "cpu", () => {}, TINY);
  // the state a kill during step 5 leaves: the .partial folder with the step-3 checkpoint
  const models = path.join(tmp, "killed");
  const partial = `${defaultBackboneDir(models, datasetTexts(ds), TINY)}.partial`;
  const crash = (s: string) => {
    if (s.includes("step 5/6")) throw new Error("simulated kill");
  };
  assert.throws(() => pretrain(datasetTexts(ds), partial, TINY, { device: "cpu", progressEveryMs: 0, log: crash }), /simulated kill/);
  const lines: string[] = [];
  const resumed = ensureDefaultBackbone(ds, models, "cpu", (s) => lines.push(s), TINY);
  assert.ok(
    lines.some((l) => /resuming .* at step 3\/6/.test(l)),
    lines.join("\n"),
  );
  const a = loadGpt2Folder(whole).weights,
    b = loadGpt2Folder(resumed).weights;
  for (const [n, t] of a) assert.deepEqual(b.get(n)!.data, t.data, n);
});

test("a dataset without text gets a clear error naming the ways out", async () => {
  const ds = await dataset(7);
  const bare = { ...ds, itemText: ds.itemText.map(() => ""), userText: ds.userText.map(() => ""), reviews: [] };
  assert.throws(
    () => ensureDefaultBackbone(bare, path.join(tmp, "bare"), "cpu", () => {}, TINY),
    /has no text .*--model DIR.*--backbone random/,
  );
});

test("run.json: a run saved before the pretrained default reopens with the random backbone", () => {
  const dir = path.join(tmp, "old-run");
  fs.mkdirSync(dir, { recursive: true });
  const run = { data: { kind: "synthetic" }, dataOptions: {}, config: PAPER_DEFAULTS };
  fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify(run));
  assert.equal(readRunFile(dir).backbone, "random");
  fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify({ ...run, backbone: "pretrained" }));
  assert.equal(readRunFile(dir).backbone, "pretrained");
  fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify({ ...run, backbone: "huge" }));
  assert.throws(() => readRunFile(dir), /backbone/);
});
