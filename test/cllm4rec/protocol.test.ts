// The authors' protocol as flags (SPEC.md §5–§7): regulariser scale, the test exclusion,
// FixOrd scored in its fixed order, a fresh content Adam for finetuning. Each is checked
// against a host-side reference or an observable effect, and once end to end.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createTinyGpt2Folder } from "../../src/io/tiny_gpt2";
import { openRun, trainRun, loadRun, type RunSpec, type RunContext } from "../../src/cllm4rec/pipeline";
import { Trainer } from "../../src/cllm4rec/train/trainer";
import { datasetCorpora, type Corpora } from "../../src/cllm4rec/train/corpora";
import { PAPER_DEFAULTS, type TrainConfig, validateConfig, withLegacyProtocol } from "../../src/cllm4rec/train/config";
import { Rng } from "../../src/cllm4rec/data";
import { tidy } from "../../src/engine";
import { parseArgs } from "../../src/cli/flags";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-protocol-"));
process.env.CLLM4REC_CACHE = path.join(tmp, "cache");
const modelDir = path.join(tmp, "backbone");
createTinyGpt2Folder(modelDir, { nLayer: 1, nEmbd: 32, nHead: 1, nPositions: 256, seed: 3 });
const quiet = () => {};

const config = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  ...PAPER_DEFAULTS,
  contentEpochs: 1,
  alternatingEpochs: 1,
  finetuneEpochs: 2,
  lrFinetune: 3e-3,
  contentFraction: 0.15,
  seed: 7,
  ...over,
});
const spec = (over: Partial<TrainConfig> = {}): RunSpec => ({
  data: { kind: "synthetic", numUsers: 40, numItems: 30, seed: 5 },
  dataOptions: {},
  modelDir,
  config: config(over),
});
function trainerFor(ctx: RunContext, outDir: string, corpora?: Corpora): Trainer {
  corpora ??= datasetCorpora(ctx.dataset, ctx.tokenizer, { batchSize: ctx.spec.config.batchSize, maxTokens: 256, lengthAware: true });
  return new Trainer({ model: ctx.model, corpora, split: ctx.dataset, config: ctx.spec.config, outDir, log: quiet, backboneRef: modelDir });
}

test("--reg-scale: sum is the plain sum over occurrences (host reference), mean divides it by the batch size", async () => {
  const ctx = await openRun(spec(), { log: quiet });
  const m = ctx.model;
  const lu = m.collab.user.toFloat32(),
    li = m.collab.item.toFloat32(),
    cu = m.content.user.toFloat32(),
    ci = m.content.item.toFloat32();
  // occurrences, with repeats and a base-vocabulary id that must be ignored
  const ids = Int32Array.from([m.N + 3, m.N + m.I + 5, 17, m.N + 3, m.N + m.I + 29, m.N]);
  let want = 0;
  for (const id of ids) {
    if (id < m.N) continue;
    const [a, b, row] = id < m.N + m.I ? [cu, lu, id - m.N] : [ci, li, id - m.N - m.I];
    for (let k = 0; k < m.d; k++) want += (a[row * m.d + k] - b[row * m.d + k]) ** 2;
  }
  const sum = tidy(() => m.regularizer("content", ids, 20, "sum")!.item());
  const mean = tidy(() => m.regularizer("content", ids, 20, "mean")!.item());
  assert.ok(want > 0);
  assert.ok(Math.abs(sum - want) <= 1e-5 * want, `sum ${sum} vs host ${want}`);
  assert.ok(Math.abs(mean - want / 20) <= (1e-5 * want) / 20, `mean ${mean} vs host ${want / 20}`);
});

test("flags: --reg-scale, --test-exclude, --content-opt-finetune parse, reject bad values, and validate", () => {
  const a = parseArgs(["--reg-scale", "sum", "--test-exclude", "train", "--content-opt-finetune", "keep"]);
  assert.deepEqual([a.flags["reg-scale"], a.flags["test-exclude"], a.flags["content-opt-finetune"]], ["sum", "train", "keep"]);
  assert.throws(() => parseArgs(["--reg-scale", "avg"]), /--reg-scale must be one of sum, mean, got 'avg'/);
  assert.throws(() => parseArgs(["--test-exclude", "val"]), /--test-exclude must be one of train, train\+val/);
  assert.throws(() => validateConfig(config({ regScale: "avg" as "sum" })), /regScale must be sum or mean/);
  // a run saved before these fields existed reopens with what it did then
  const old = { ...config() } as Partial<TrainConfig>;
  delete old.regScale;
  delete old.testExclude;
  delete old.contentOptFinetune;
  const filled = withLegacyProtocol(old as TrainConfig);
  assert.deepEqual([filled.regScale, filled.testExclude, filled.contentOptFinetune], ["mean", "train+val", "keep"]);
});

test("LLM-FixOrd is scored with its items in the fixed order it trained on; other runs are shuffled", async () => {
  const ctx = await openRun(spec({ ablation: "fixord", finetuneEpochs: 1 }), { log: quiet });
  const base = datasetCorpora(ctx.dataset, ctx.tokenizer, { batchSize: 20, maxTokens: 256, lengthAware: true });
  // the fixed-order prompt lists the user's training items ascending, and draws nothing from the generator
  const user = ctx.dataset.train.findIndex((t) => t.length >= 4);
  const rng = new Rng("probe");
  const fixed = base.evalBatch([user], rng, "rec", true);
  assert.equal(rng.float(), new Rng("probe").float(), "the fixed order must not consume randomness");
  const itemIds = Array.from(fixed.promptIds)
    .filter((id) => id >= ctx.model.N + ctx.model.I)
    .map((id) => id - ctx.model.N - ctx.model.I);
  assert.deepEqual(
    itemIds,
    [...ctx.dataset.train[user]].sort((x, y) => x - y),
  );
  const seen: (boolean | undefined)[] = [];
  const spy: Corpora = {
    ...base,
    evalBatch: (u, r, k, f) => {
      seen.push(f);
      return base.evalBatch(u, r, k, f);
    },
  };
  await trainerFor(ctx, path.join(tmp, "run-fixord"), spy).run();
  assert.ok(seen.length > 0 && seen.every((f) => f === true), `fixord evaluation orders: ${seen}`);
  const plain = await openRun(spec({ finetuneEpochs: 1 }), { log: quiet });
  const seenPlain: (boolean | undefined)[] = [];
  const basePlain = datasetCorpora(plain.dataset, plain.tokenizer, { batchSize: 20, maxTokens: 256, lengthAware: true });
  await trainerFor(plain, path.join(tmp, "run-plain"), {
    ...basePlain,
    evalBatch: (u, r, k, f) => {
      seenPlain.push(f);
      return basePlain.evalBatch(u, r, k, f);
    },
  }).run();
  assert.ok(seenPlain.length > 0 && seenPlain.every((f) => !f));
});

test("--content-opt-finetune fresh starts a new content Adam for finetuning; keep continues the pretraining one", async () => {
  const steps = async (mode: "fresh" | "keep") => {
    const dir = path.join(tmp, `run-opt-${mode}`);
    const ctx = await openRun(spec({ contentOptFinetune: mode }), { log: quiet });
    const r = await trainerFor(ctx, dir).run();
    const state = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8"));
    return { content: state.state.optSteps.content as number, total: r.history.length };
  };
  const fresh = await steps("fresh"),
    keep = await steps("keep");
  // same corpora and batches either way: the kept optimizer counts every C-step, the fresh one
  // only the finetuning ones (content + alternating passes are 2 of the 4 C-step passes here)
  assert.ok(fresh.content > 0 && keep.content > fresh.content, `fresh ${fresh.content}, keep ${keep.content}`);
  assert.equal(keep.content % 4, 0);
  assert.equal(fresh.content, keep.content / 2);
});

test("end to end with the authors' protocol: report says which test exclusion, resume is exact with the fresh Adam", async () => {
  const s = spec({ regScale: "sum", testExclude: "train", contentOptFinetune: "fresh", lambdaC: 0.05, dropout: 0.1 });
  const out = path.join(tmp, "run-authors");
  const report = await trainRun(s, out, { log: quiet });
  assert.equal(report.config.testExclude, "train");
  assert.match(
    fs.readFileSync(path.join(out, "report.md"), "utf8"),
    /test excludes: train \(test ranks all items except the user's training items/,
  );
  for (const r of [report.cllm4rec.test, report.popularity.test]) assert.ok(r.users > 0 && r.recall[20] >= 0 && r.recall[20] <= 1);
  // evaluate reproduces the report's numbers with the run's own protocol
  const ctx = await loadRun(out, { log: quiet });
  assert.equal(ctx.spec.config.testExclude, "train");
  // interrupted inside finetuning (after the fresh optimizer exists) and resumed: same result
  const dirB = path.join(tmp, "run-authors-b");
  const b1 = await openRun(s, { log: quiet });
  await trainerFor(b1, dirB).run({ untilEpoch: 3 });
  const b2 = await openRun(s, { log: quiet });
  const tb = trainerFor(b2, dirB);
  assert.equal(tb.resume(), true);
  const rb = await tb.run();
  const a = await openRun(s, { log: quiet });
  const ra = await trainerFor(a, path.join(tmp, "run-authors-a")).run();
  assert.deepEqual(
    rb.history.map((h) => [h.collabLoss, h.contentLoss, h.recLoss, h.valScore]),
    ra.history.map((h) => [h.collabLoss, h.contentLoss, h.recLoss, h.valScore]),
  );
  // dropout is on in training (the losses differ from a run without it) and off at evaluation
  const plain = await openRun({ ...s, config: { ...s.config, dropout: 0 } }, { log: quiet });
  const rp = await trainerFor(plain, path.join(tmp, "run-authors-nodrop")).run({ untilEpoch: 1 });
  assert.notEqual(rp.history[0].contentLoss, ra.history[0].contentLoss);
  // same initial tables, dropout 0.1 vs 0: evaluation gives the same numbers
  const withDrop = trainerFor(await openRun(s, { log: quiet }), path.join(tmp, "run-authors-eval"));
  const noDrop = trainerFor(
    await openRun({ ...s, config: { ...s.config, dropout: 0 } }, { log: quiet }),
    path.join(tmp, "run-authors-eval0"),
  );
  assert.deepEqual(await withDrop.evaluate("val"), await noDrop.evaluate("val"), "evaluation draws no masks");
});
