// End to end on small synthetic data with a small backbone: training beats popularity,
// the frozen GPT-2 is bit-identical afterwards, resume equals an uninterrupted run,
// bad input fails clearly, and the CLI documents every hyper-parameter.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { createTinyGpt2Folder } from "../../src/io/tiny_gpt2";
import { openRun, trainRun, loadRun, recommend, type RunSpec, type RunContext } from "../../src/cllm4rec/pipeline";
import { Trainer, NonFiniteLossError } from "../../src/cllm4rec/train/trainer";
import { datasetCorpora } from "../../src/cllm4rec/train/corpora";
import { PAPER_DEFAULTS, type TrainConfig } from "../../src/cllm4rec/train/config";
import { FLAGS, helpText } from "../../src/cli/flags";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-e2e-"));
process.env.CLLM4REC_CACHE = path.join(tmp, "cache");
const modelDir = path.join(tmp, "backbone");
createTinyGpt2Folder(modelDir, { nLayer: 1, nEmbd: 64, nHead: 1, nPositions: 256, seed: 3 });
const quiet = () => {};

const config = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  ...PAPER_DEFAULTS,
  contentEpochs: 1,
  alternatingEpochs: 1,
  finetuneEpochs: 4,
  lrFinetune: 3e-3,
  contentFraction: 0.15,
  seed: 7,
  ...over,
});
const spec = (over: Partial<TrainConfig> = {}, users = 80, items = 40): RunSpec => ({
  data: { kind: "synthetic", numUsers: users, numItems: items, seed: 5 },
  dataOptions: {},
  modelDir,
  config: config(over),
});

function hashBackbone(ctx: RunContext): string {
  const h = createHash("sha256");
  for (const p of ctx.backbone.parameters()) h.update(Buffer.from(p.toFloat32().buffer));
  return h.digest("hex");
}

function trainerFor(ctx: RunContext, outDir: string): Trainer {
  const corpora = datasetCorpora(ctx.dataset, ctx.tokenizer, { batchSize: ctx.spec.config.batchSize, maxTokens: 256, lengthAware: true });
  return new Trainer({ model: ctx.model, corpora, split: ctx.dataset, config: ctx.spec.config, outDir, log: quiet, backboneRef: modelDir });
}

test("a short run beats popularity on Recall@20 and leaves GPT-2 bit-identical", async () => {
  const out = path.join(tmp, "run-main");
  const before = hashBackbone(await openRun(spec(), { log: quiet }));
  const report = await trainRun(spec(), out, { log: quiet });
  assert.ok(
    report.cllm4rec.test.recall[20] > report.popularity.test.recall[20],
    `CLLM4Rec test R@20 ${report.cllm4rec.test.recall[20]} vs popularity ${report.popularity.test.recall[20]}`,
  );
  for (const f of ["run.json", "dataset-card.json", "metrics.jsonl", "report.json", "report.md", "state.json"])
    assert.ok(fs.existsSync(path.join(out, f)), `${f} missing`);
  // the committed checkpoint names its tables and best epoch; both files exist
  const committed = JSON.parse(fs.readFileSync(path.join(out, "state.json"), "utf8")).files;
  for (const part of ["tables", "optimizer", "best"]) assert.ok(fs.existsSync(path.join(out, committed[part].path)), `${part} missing`);
  assert.equal(fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").length, 6);
  // the backbone reloaded from disk and the one used in training are the same bytes
  const ctx = await loadRun(out, { log: quiet });
  assert.equal(hashBackbone(ctx), before);
  // recommend: original ids, never an already-known item
  const [r] = recommend(ctx, [ctx.dataset.userIds[3]], 5);
  assert.equal(r.items.length, 5);
  const known = new Set([...ctx.dataset.train[3], ...ctx.dataset.val[3], ...ctx.dataset.test[3]].map((j) => ctx.dataset.itemIds[j]));
  for (const it of r.items) assert.ok(!known.has(it.item), `recommended known item ${it.item}`);
  assert.throws(() => recommend(ctx, ["no-such-user"], 5), /unknown user id\(s\): no-such-user/);
});

test("the frozen backbone's tensors are bit-identical after training steps", async () => {
  const ctx = await openRun(spec({ finetuneEpochs: 1, alternatingEpochs: 1 }), { log: quiet });
  const before = hashBackbone(ctx);
  await trainerFor(ctx, path.join(tmp, "run-frozen")).run();
  assert.equal(hashBackbone(ctx), before);
});

test("resume after an interruption gives exactly the uninterrupted result", async () => {
  const s = spec({ finetuneEpochs: 2 });
  const a = await openRun(s, { log: quiet });
  const ta = trainerFor(a, path.join(tmp, "run-a"));
  const ra = await ta.run();
  const dirB = path.join(tmp, "run-b");
  const b1 = await openRun(s, { log: quiet });
  await trainerFor(b1, dirB).run({ untilEpoch: 3 }); // content, alternating, finetune 1
  const b2 = await openRun(s, { log: quiet }); // a fresh process would start like this
  const tb = trainerFor(b2, dirB);
  assert.equal(tb.resume(), true);
  const rb = await tb.run();
  assert.deepEqual(
    rb.history.map((h) => [h.collabLoss, h.contentLoss, h.recLoss, h.valScore]),
    ra.history.map((h) => [h.collabLoss, h.contentLoss, h.recLoss, h.valScore]),
  );
  for (let i = 0; i < 4; i++)
    assert.deepEqual(b2.model.parameters()[i].toFloat32(), a.model.parameters()[i].toFloat32(), `table ${i} differs`);
});

test("a non-finite loss stops with the stage and step named and keeps the last good checkpoint", async () => {
  const dir = path.join(tmp, "run-nan");
  const good = await openRun(spec(), { log: quiet });
  await trainerFor(good, dir).run({ untilEpoch: 1 });
  const runFiles = () => ["state.json", ...fs.readdirSync(path.join(dir, "checkpoint")).map((f) => path.join("checkpoint", f))];
  const names = runFiles();
  const saved = names.map((f) => fs.readFileSync(path.join(dir, f)));
  const bad = await openRun(spec({ lrPretrain: 1e30 }), { log: quiet });
  const t = trainerFor(bad, dir);
  t.resume();
  await assert.rejects(
    () => t.run(),
    (e: Error) => e instanceof NonFiniteLossError && /stage 'alternating', epoch 1, step \d+/.test(e.message),
  );
  assert.deepEqual(runFiles(), names);
  names.forEach((f, i) => {
    assert.ok(fs.readFileSync(path.join(dir, f)).equals(saved[i]), `${f} changed`);
  });
});

test("bad input: empty dataset after filtering, checkpoint from another backbone, existing run folder", async () => {
  await assert.rejects(() => openRun({ ...spec(), dataOptions: { userCore: 100000 } }, { log: quiet }), /user|empty|filter|k-core/i);
  // a checkpoint of a d=64 backbone cannot be loaded into a d=32 one
  const out = path.join(tmp, "run-main");
  const other = path.join(tmp, "backbone-32");
  createTinyGpt2Folder(other, { nLayer: 1, nEmbd: 32, nHead: 1, nPositions: 256, seed: 3 });
  const run = JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8"));
  const moved = path.join(tmp, "run-moved");
  fs.cpSync(out, moved, { recursive: true });
  fs.writeFileSync(path.join(moved, "run.json"), JSON.stringify({ ...run, modelDir: other }));
  await assert.rejects(() => loadRun(moved, { log: quiet }), /has shape \[\d+, 64\], this model needs \[\d+, 32\]/);
  await assert.rejects(() => trainRun(spec(), out, { log: quiet }), /already holds a run; pass --resume/);
});

test("every hyper-parameter is a CLI flag listed in --help", () => {
  const help = helpText();
  for (const key of Object.keys(PAPER_DEFAULTS)) {
    const flag = FLAGS.find((f) => f.config === key);
    assert.ok(flag, `no flag sets ${key}`);
    assert.ok(help.includes(`--${flag!.name}`), `--${flag!.name} missing from --help`);
  }
  for (const f of FLAGS) assert.ok(help.includes(`--${f.name}`), `--${f.name} missing from --help`);
  const cli = path.resolve(__dirname, "..", "..", "..", "dist", "train.js");
  if (fs.existsSync(cli)) {
    const printed = execFileSync(process.execPath, [cli, "--help"], { encoding: "utf8" });
    assert.equal(printed.trim(), help.trim());
    const bad = spawnSync(process.execPath, [cli, "--no-such-flag"], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /unknown flag --no-such-flag/);
  }
});

test("ablations: LLM-CF trains no content side, LLM-PreRec skips finetuning, LLM-FixOrd runs", async () => {
  const small = { contentEpochs: 1, alternatingEpochs: 1, finetuneEpochs: 1 };
  const cf = await openRun(spec({ ...small, ablation: "llm-cf" }), { log: quiet });
  const contentBefore = cf.model.content.item.toFloat32();
  const rcf = await trainerFor(cf, path.join(tmp, "run-cf")).run();
  assert.deepEqual(
    rcf.history.map((h) => h.stage),
    ["alternating", "finetune"],
  );
  assert.ok(rcf.history.every((h) => h.contentLoss === undefined));
  assert.deepEqual(cf.model.content.item.toFloat32(), contentBefore, "LLM-CF must not touch the content tables");

  const pre = await openRun(spec({ ...small, ablation: "prerec" }), { log: quiet });
  const tp = trainerFor(pre, path.join(tmp, "run-prerec"));
  const rpre = await tp.run();
  assert.deepEqual(
    rpre.history.map((h) => h.stage),
    ["content", "alternating"],
  );
  const m = await tp.evaluate("test");
  assert.ok(m.users > 0 && m.recall[20] >= 0 && m.recall[20] <= 1);

  const fix = await openRun(spec({ ...small, ablation: "fixord" }), { log: quiet });
  const rfix = await trainerFor(fix, path.join(tmp, "run-fixord")).run();
  assert.equal(rfix.history.length, 3);
  assert.ok(Number.isFinite(rfix.history[1].collabLoss!));
});

test("a dataset without any text trains with LLM-CF and says why the full method cannot", async () => {
  const csv = path.join(tmp, "plain.csv");
  const rows = ["user,item,rating"];
  for (let u = 0; u < 30; u++) for (let k = 0; k < 8; k++) rows.push(`u${u},i${(u * 3 + k * 5) % 25},5`);
  fs.writeFileSync(csv, rows.join("\n") + "\n");
  const plain = (ablation: TrainConfig["ablation"]): RunSpec => ({
    data: { kind: "generic", interactions: csv },
    dataOptions: {},
    modelDir,
    config: config({ ablation, contentEpochs: 1, alternatingEpochs: 1, finetuneEpochs: 1 }),
  });
  const cf = await openRun(plain("llm-cf"), { log: quiet });
  const r = await trainerFor(cf, path.join(tmp, "run-plain-cf")).run();
  assert.equal(r.history.length, 2);
  const full = await openRun(plain("none"), { log: quiet });
  await assert.rejects(() => trainerFor(full, path.join(tmp, "run-plain")).run(), /has no text .* use --ablation llm-cf/);
});
