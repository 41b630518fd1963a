// From a run description to a trained model and its report: dataset, backbone, model,
// trainer, final evaluation next to a popularity baseline. Also reopens a finished run
// (evaluate / recommend / export).
import * as fs from "node:fs";
import * as path from "node:path";
import { native, defaultDevice, Tensor } from "../engine";
import { scoreUsers } from "./predict/score";
import type { Device } from "../engine";
import { Gpt2 } from "../nn/gpt2";
import { loadGpt2Folder } from "../io/gpt2_folder";
import { ensureTinyModel, randomGpt2Weights } from "../io/tiny_gpt2";
import { type DefaultBackbone, DEFAULT_BACKBONES, ensureDefaultBackbone } from "./pretrain/default_backbone";
import { RecTokenizer } from "../io/tokenizer";
import { writeSafetensors } from "../io/safetensors";
import { loadDataset, Rng, type Dataset, type DataSpec, type LoadOptions } from "./data";
import { specInputFiles } from "./data/load_dataset";
import { evaluateRanking, type EvalResult, topK, type TestExclude, DEFAULT_TEST_EXCLUDE } from "../shared/metrics";
import { PopularityRecommender } from "../baselines";
import { Cllm4RecModel } from "./model/model";
import { PAPER_DEFAULTS, type TrainConfig, validateConfig, withLegacyProtocol } from "./train/config";
import { Trainer, type TrainResult, plan, valScore } from "./train/trainer";
import { parseState } from "./train/state";
import { resolvePlan } from "./train/plan";
import { datasetCorpora } from "./train/corpora";
import { fmtSecs } from "./train/progress";
import { CheckpointStore } from "./run/checkpoint";
import { writeAtomic } from "./run/fs";
import { Fields, readRunJson, stringifyRunJson } from "./run/json";
import { lockRunFolder } from "./run/lock";
import { type DataFingerprint, fingerprint, fingerprintChanges, parseFingerprint } from "./run/fingerprint";

export interface RunSpec {
  data: DataSpec;
  dataOptions: Omit<LoadOptions, "log" | "cardFile" | "cacheDir">;
  /** a Hugging Face GPT-2 folder; undefined = the default backbone named by `backbone` */
  modelDir?: string;
  /** without modelDir: "pretrained" (default: a small GPT-2 pretrained once on the run's training text) or "random" (the tiny random one) */
  backbone?: DefaultBackbone;
  config: TrainConfig;
}

export interface RunContext {
  spec: RunSpec;
  dataset: Dataset;
  backbone: Gpt2;
  backboneRef: string;
  tokenizer: RecTokenizer;
  model: Cllm4RecModel;
  device: Device;
}

/** Where datasets and the tiny backbone are cached (CLLM4REC_CACHE overrides). */
export const cacheDir = (): string => path.resolve(process.env.CLLM4REC_CACHE ?? ".cache");

export interface OpenOptions {
  device?: string;
  threads?: number;
  /** precision of the frozen backbone weights (default bf16 on CUDA, f32 on the CPU, where bf16 needs AVX512_BF16) */
  dtype?: "f32" | "fp32" | "bf16";
  log?: (s: string) => void;
  cardFile?: string;
}

/** Loads the dataset and backbone and builds a freshly initialised model. */
export async function openRun(spec: RunSpec, o: OpenOptions = {}): Promise<RunContext> {
  const log = o.log ?? (() => {});
  if (o.threads) native().setNumThreads(o.threads);
  const t0 = Date.now();
  const dataset = await loadDataset(spec.data, {
    ...spec.dataOptions,
    cacheDir: path.join(cacheDir(), "datasets"),
    cardFile: o.cardFile,
    log,
  });
  log(`dataset ready in ${fmtSecs((Date.now() - t0) / 1000)}`);
  const device = defaultDevice(o.device ?? "auto", log);
  const models = path.join(cacheDir(), "models");
  const kind = spec.modelDir ? undefined : (spec.backbone ?? "pretrained");
  const modelDir = spec.modelDir ?? (kind === "random" ? ensureTinyModel(models) : ensureDefaultBackbone(dataset, models, device, log));
  const folder = loadGpt2Folder(modelDir);
  // LLM-Scratch / LLM-FtAll train the backbone too; every other run keeps it frozen
  const p = resolvePlan(spec.config);
  const weights = p.backboneRandomInit ? randomGpt2Weights(folder.config, spec.config.seed) : folder.weights;
  // BF16 frozen weights by default on CUDA (tensor cores); the CPU's fp32 stays the default there
  const dtype = o.dtype === "fp32" ? "f32" : (o.dtype ?? (device === "cuda" ? "bf16" : "f32"));
  const backbone = new Gpt2(folder.config, weights, device, { dtype, trainable: p.backboneTrains });
  if (backbone.dtypeNote) log(`--dtype bf16: ${backbone.dtypeNote}`);
  const c = folder.config;
  log(
    `backbone ${kind ? `${kind === "random" ? "tiny random" : "pretrained"} default (${modelDir})` : modelDir}: ${c.nLayer} layers, d=${c.nEmbd}, ${c.nHead} heads, ` +
      `vocab ${c.vocabSize} (+${dataset.numUsers} users, +${dataset.numItems} items), tokenizer ${folder.tokenizerSource}, device ${device}, ${backbone.weightDtype} weights` +
      (device === "cpu" ? `, ${native().numThreads()} threads` : ""),
  );
  const tokenizer = new RecTokenizer(folder.tokenizer, dataset.numUsers, dataset.numItems);
  if (tokenizer.baseVocab !== c.vocabSize)
    throw new Error(`tokenizer has ${tokenizer.baseVocab} tokens but the backbone's vocabulary is ${c.vocabSize}`);
  const init = new Rng(`${spec.config.seed}:init`);
  const model = new Cllm4RecModel(backbone, { numUsers: dataset.numUsers, numItems: dataset.numItems }, () => init.float());
  return { spec, dataset, backbone, backboneRef: path.resolve(modelDir), tokenizer, model, device };
}

export interface TrainReport {
  dataset: string;
  device: Device;
  backbone: string;
  config: TrainConfig;
  cllm4rec: { val: EvalResult; test: EvalResult };
  popularity: { val: EvalResult; test: EvalResult };
  bestEpoch: number;
  stoppedEarly: boolean;
  stageSeconds: Record<string, number>;
  stageEpochs: Record<string, number>;
  totalSeconds: number;
  /** final evaluation time (prompt building, forward pass, ranking) per 1,000 users */
  scoreSecondsPer1k: number;
}

function metricRow(name: string, r: EvalResult): string {
  return `| ${name.padEnd(22)} | ${r.recall[20].toFixed(4)} | ${r.recall[40].toFixed(4)} | ${r.ndcg[100].toFixed(4)} |`;
}

/** The test protocol in words, for every table that shows test numbers. */
export const testProtocol = (e: TestExclude): string =>
  e === "train"
    ? "test ranks all items except the user's training items (authors' protocol)"
    : "test ranks all items except the user's training and validation items (variant, not the authors' protocol)";

export function reportTable(rep: Pick<TrainReport, "cllm4rec" | "popularity">, testExclude: TestExclude = DEFAULT_TEST_EXCLUDE): string {
  const lines = [
    `test excludes: ${testExclude} (${testProtocol(testExclude)})`,
    "",
    `| model / split          | Recall@20 | Recall@40 | NDCG@100 |`,
    `|------------------------|-----------|-----------|----------|`,
    metricRow("CLLM4Rec  validation", rep.cllm4rec.val),
    metricRow("CLLM4Rec  test", rep.cllm4rec.test),
    metricRow("Popularity validation", rep.popularity.val),
    metricRow("Popularity test", rep.popularity.test),
  ];
  return lines.join("\n");
}

export async function popularityMetrics(
  ds: Dataset,
  testExclude: TestExclude = DEFAULT_TEST_EXCLUDE,
): Promise<{ val: EvalResult; test: EvalResult }> {
  const pop = new PopularityRecommender();
  await pop.fit(ds);
  return {
    val: await evaluateRanking((u) => pop.score(u), ds, "val"),
    test: await evaluateRanking((u) => pop.score(u), ds, "test", { testExclude }),
  };
}

/** run.json: the run description plus the fingerprint of the data it was trained on. */
export interface RunFile extends RunSpec {
  fingerprint?: DataFingerprint;
}

/** Flags that --resume may change: they steer the rest of the schedule, not what was already learnt. */
export const RESUME_SAFE: readonly (keyof TrainConfig)[] = [
  "lrPretrain",
  "lrFinetune",
  "contentEpochs",
  "alternatingEpochs",
  "finetuneEpochs",
  "patience",
  "syncEvery",
];

const DATA_KINDS = ["synthetic", "movielens", "amazon", "generic", "npz"];

/** Config fields that older run.json files may lack (the code supplies their default). */
const OPTIONAL_CONFIG: readonly string[] = ["syncEvery"];

/** Reads and checks run.json; errors name the file and the field. */
export function readRunFile(outDir: string): RunFile {
  const file = path.join(outDir, "run.json");
  if (!fs.existsSync(file)) throw new Error(`${outDir} is not a run folder (no run.json)`);
  const f = new Fields(file, readRunJson(file, "run description"));
  const data = f.object("data");
  data.string("kind", DATA_KINDS);
  f.object("dataOptions");
  if (f.has("modelDir")) f.string("modelDir");
  if (f.has("backbone")) f.string("backbone", DEFAULT_BACKBONES);
  const spec = f.value as RunFile;
  // runs saved before the pretrained default existed used the tiny random backbone
  if (spec.modelDir === undefined && spec.backbone === undefined) spec.backbone = "random";
  // runs saved before the protocol fields existed get what they did then
  spec.config = withLegacyProtocol(f.object("config").value as TrainConfig);
  const c = new Fields(file, spec.config, "config");
  for (const [k, v] of Object.entries(PAPER_DEFAULTS)) {
    if (OPTIONAL_CONFIG.includes(k) && !c.has(k)) continue;
    if (typeof v === "number") c.number(k);
    else if (typeof v === "boolean") c.bool(k);
    else c.string(k);
  }
  try {
    validateConfig(spec.config);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (f.has("fingerprint")) spec.fingerprint = parseFingerprint(f.object("fingerprint"));
  return spec;
}

function writeRunFile(outDir: string, run: RunFile): void {
  writeAtomic(path.join(outDir, "run.json"), stringifyRunJson(run));
}

/** Checks the data read now against the run's fingerprint; returns the current fingerprint. */
export function checkData(
  ctx: RunContext,
  recorded: DataFingerprint | undefined,
  allowChange: boolean,
  log: (s: string) => void,
): DataFingerprint {
  const now = fingerprint(specInputFiles(ctx.spec.data), ctx.dataset);
  if (!recorded) return now;
  const changes = fingerprintChanges(recorded, now);
  if (changes.length === 0) return now;
  const what = changes.map((c) => `  - ${c}`).join("\n");
  if (!allowChange)
    throw new Error(
      `the data changed since this run was trained; its embeddings belong to the old data:\n${what}\n` +
        `pass --allow-data-change to use the run with the data as it is now`,
    );
  log(`warning: --allow-data-change: the data changed since this run was trained:\n${what}`);
  return now;
}

export interface TrainRunOptions extends OpenOptions {
  resume?: boolean;
  /** --resume: config fields given on the command line (only RESUME_SAFE ones may differ) */
  resumeConfig?: Partial<TrainConfig>;
  /** --resume: the data/model part of the spec was given on the command line and must match */
  resumeDataGiven?: boolean;
  allowDataChange?: boolean;
}

/** Trains (or resumes) a run into outDir and writes the report. */
export async function trainRun(spec: RunSpec, outDir: string, o: TrainRunOptions = {}): Promise<TrainReport> {
  const log = o.log ?? ((s: string) => console.log(s));
  // run.json names the default backbone it used, so a later default cannot change a saved run
  if (!spec.modelDir) spec = { ...spec, backbone: spec.backbone ?? "pretrained" };
  const start = Date.now();
  if (fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()) throw new Error(`--out ${outDir} is a file, not a folder`);
  const createdDir = !fs.existsSync(outDir);
  fs.mkdirSync(outDir, { recursive: true });
  const lock = lockRunFolder(outDir, log);
  const store = new CheckpointStore(outDir);
  let trainer: Trainer | undefined;
  try {
    let recorded: DataFingerprint | undefined;
    const haveRun = fs.existsSync(path.join(outDir, "run.json"));
    if (o.resume && haveRun) {
      const saved = readRunFile(outDir);
      recorded = saved.fingerprint;
      spec = resumeSpec(saved, spec, o, log);
    } else {
      if (o.resume) log(`resume: nothing saved in ${outDir} yet, starting from the beginning`);
      else if (store.exists()) throw new Error(`${outDir} already holds a run; pass --resume to continue it or choose another --out`);
    }
    if (!o.resume || !haveRun) validateConfig(spec.config);
    const ctx = await openRun(spec, { ...o, log, cardFile: path.join(outDir, "dataset-card.json") });
    const fp = checkData(ctx, recorded, !!o.allowDataChange, log);
    const corpora = datasetCorpora(ctx.dataset, ctx.tokenizer, {
      batchSize: spec.config.batchSize,
      maxTokens: Math.min(spec.config.maxTokens, ctx.backbone.config.nPositions),
      lengthAware: spec.config.lengthAware,
    });
    trainer = new Trainer({
      model: ctx.model,
      corpora,
      split: ctx.dataset,
      config: spec.config,
      outDir,
      log,
      backboneRef: ctx.backboneRef,
    });
    if (o.resume && haveRun && !trainer.resume()) log(`resume: no epoch of ${outDir} was complete, starting from the beginning`);
    // only now, with flags, data and checkpoint all checked, does run.json change
    writeRunFile(outDir, { ...spec, fingerprint: fp });
    const result: TrainResult = await trainer.run();
    const report = await finalReport(ctx, trainer, result, start);
    const testExclude = spec.config.testExclude ?? DEFAULT_TEST_EXCLUDE;
    writeAtomic(path.join(outDir, "report.json"), stringifyRunJson(report));
    const perEpoch = Object.entries(result.stageEpochs)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${s}: ${n} epoch(s), ${fmtSecs(result.stageSeconds[s as keyof typeof result.stageSeconds] / n)}/epoch`)
      .join("; ");
    const md = [
      `# CLLM4Rec run: ${ctx.dataset.name}`,
      "",
      `device ${ctx.device}; backbone ${ctx.backboneRef}`,
      "",
      reportTable(report, testExclude),
      "",
      `selection score (val R@20+R@40+N@100): ${valScore(report.cllm4rec.val).toFixed(4)}`,
      `time: ${fmtSecs(report.totalSeconds)} total; ${perEpoch}`,
      "",
    ].join("\n");
    writeAtomic(path.join(outDir, "report.md"), md);
    log("\n" + reportTable(report, testExclude));
    log(
      `\ntotal ${fmtSecs(report.totalSeconds)}; ${perEpoch}\nrun saved in ${outDir} (report.md, report.json, metrics.jsonl, state.json + checkpoint/)`,
    );
    return report;
  } catch (e) {
    // a start that failed before any epoch was committed leaves nothing behind
    if (createdDir && !store.exists()) {
      lock.release();
      fs.rmSync(outDir, { recursive: true, force: true });
    }
    throw e;
  } finally {
    trainer?.dispose();
    lock.release();
  }
}

/** The saved run description with the safe flags given to --resume applied; anything else that differs is an error. */
function resumeSpec(saved: RunFile, given: RunSpec, o: TrainRunOptions, log: (s: string) => void): RunSpec {
  const { fingerprint: _fp, ...savedSpec } = saved;
  if (o.resumeDataGiven) {
    const pick = (s: RunSpec) =>
      JSON.stringify({
        data: s.data,
        dataOptions: s.dataOptions,
        modelDir: s.modelDir,
        backbone: s.modelDir ? undefined : (s.backbone ?? "pretrained"),
      });
    if (pick(savedSpec) !== pick(given))
      throw new Error(
        `--resume continues the run as saved in run.json; data and model flags cannot change ` +
          `(saved ${pick(savedSpec)}, given ${pick(given)}); drop them or choose another --out`,
      );
  }
  const config = { ...savedSpec.config };
  const applied: string[] = [];
  for (const [k, v] of Object.entries(o.resumeConfig ?? {}) as [keyof TrainConfig, unknown][]) {
    if (config[k] === v) continue;
    if (!RESUME_SAFE.includes(k))
      throw new Error(
        `--resume cannot change ${k} (${JSON.stringify(config[k])} -> ${JSON.stringify(v)}): it would make the finished epochs ` +
          `mean something else; only ${RESUME_SAFE.join(", ")} may change`,
      );
    applied.push(`${k} ${JSON.stringify(config[k])} -> ${JSON.stringify(v)}`);
    (config as Record<string, unknown>)[k] = v;
  }
  validateConfig(config);
  log(applied.length ? `resume: applying ${applied.join(", ")}` : "resume: continuing with the saved run description");
  return { ...savedSpec, config };
}

async function finalReport(ctx: RunContext, trainer: Trainer, result: TrainResult, start: number): Promise<TrainReport> {
  const tEval = Date.now();
  const cllm = { val: await trainer.evaluate("val"), test: await trainer.evaluate("test") };
  const scoreSecondsPer1k = ((Date.now() - tEval) / 1000 / Math.max(1, cllm.val.users + cllm.test.users)) * 1000;
  const popularity = await popularityMetrics(ctx.dataset, ctx.spec.config.testExclude ?? DEFAULT_TEST_EXCLUDE);
  return {
    dataset: ctx.dataset.name,
    device: ctx.device,
    backbone: ctx.backboneRef,
    config: ctx.spec.config,
    cllm4rec: cllm,
    popularity,
    bestEpoch: result.best.valEpoch,
    stoppedEarly: result.stoppedEarly,
    stageSeconds: result.stageSeconds,
    stageEpochs: result.stageEpochs,
    totalSeconds: (Date.now() - start) / 1000,
    scoreSecondsPer1k,
  };
}

/** Reopens a finished run with its selected embeddings loaded (the data checked against its fingerprint). */
export async function loadRun(outDir: string, o: OpenOptions & { allowDataChange?: boolean } = {}): Promise<RunContext> {
  const saved = readRunFile(outDir);
  const { fingerprint: recorded, ...spec } = saved;
  const ctx = await openRun(spec, o);
  checkData(ctx, recorded, !!o.allowDataChange, o.log ?? (() => {}));
  const store = new CheckpointStore(outDir);
  const commit = store.read((f) => parseState(f, plan(spec.config)));
  if (!commit) throw new Error(`${outDir} has no checkpoint yet (no complete epoch in ${store.stateFile})`);
  const part = commit.files.best ?? commit.files.tables!;
  const { I, J, d } = ctx.model;
  const shapes: Record<string, number[]> = { "collab.user": [I, d], "collab.item": [J, d], "content.user": [I, d], "content.item": [J, d] };
  const targets: Record<string, Tensor> = {
    "collab.user": ctx.model.collab.user,
    "collab.item": ctx.model.collab.item,
    "content.user": ctx.model.content.user,
    "content.item": ctx.model.content.item,
  };
  // a trained backbone (llm-scratch, llm-ftall) is saved with the tables
  if (ctx.backbone.trainable)
    for (const [n, t] of ctx.backbone.namedParameters()) [shapes[`backbone.${n}`], targets[`backbone.${n}`]] = [[...t.shape], t];
  const { data } = store.loadPart(part, shapes);
  for (const [n, t] of Object.entries(targets)) {
    const src = Tensor.from(data[n], t.shape, { device: t.device });
    t.copyFrom(src);
    src.dispose();
  }
  return ctx;
}

/** Prompt batches for scoring a reopened run (no training corpora are built). */
export function scoringCorpora(ctx: RunContext) {
  return datasetCorpora(ctx.dataset, ctx.tokenizer, {
    batchSize: 64,
    maxTokens: Math.min(ctx.spec.config.maxTokens, ctx.backbone.config.nPositions),
    lengthAware: false,
  });
}

/** Top-M recommendations (original ids) for users given by their original ids. */
export function recommend(ctx: RunContext, userIds: string[], topM: number): { user: string; items: { item: string; score: number }[] }[] {
  const index = new Map(ctx.dataset.userIds.map((u, i) => [u, i]));
  const unknown = userIds.filter((u) => !index.has(u));
  if (unknown.length)
    throw new Error(
      `unknown user id(s): ${unknown.slice(0, 10).join(", ")}${unknown.length > 10 ? " ..." : ""} ` +
        `(the run knows ${ctx.dataset.numUsers} users, e.g. ${ctx.dataset.userIds.slice(0, 3).join(", ")})`,
    );
  if (!(Number.isInteger(topM) && topM > 0)) throw new RangeError(`--top must be a positive integer, got ${topM}`);
  const users = userIds.map((u) => index.get(u)!);
  const corpora = scoringCorpora(ctx);
  const rng = new Rng(`${ctx.spec.config.seed}:recommend`);
  const { scoring, fixedItemOrder } = resolvePlan(ctx.spec.config);
  const J = ctx.dataset.numItems;
  const scores = scoreUsers(ctx.model, corpora, users, rng, scoring, 64, fixedItemOrder);
  return users.map((u, r) => {
    const row = scores.subarray(r * J, (r + 1) * J);
    // items the user already has are never recommended again
    const known = [...ctx.dataset.train[u], ...ctx.dataset.val[u], ...ctx.dataset.test[u]];
    const top = topK(row, Math.min(topM, J), known);
    return { user: userIds[r], items: Array.from(top, (j) => ({ item: ctx.dataset.itemIds[j], score: row[j] })) };
  });
}

/** Writes user/item embeddings (both sides) as safetensors plus the id maps as JSON. */
export function exportEmbeddings(ctx: RunContext, file: string): { tensors: string; ids: string } {
  const m = ctx.model;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of [
    ["collab.user", m.collab.user],
    ["collab.item", m.collab.item],
    ["content.user", m.content.user],
    ["content.item", m.content.item],
  ] as const)
    tensors.set(name, { shape: [...t.shape], data: t.toFloat32() });
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeSafetensors(file, tensors, {
    format: "cllm4rec-embeddings-v1",
    note: "rows follow the id maps in the .ids.json file beside this one",
  });
  const ids = file.replace(/\.safetensors$/, "") + ".ids.json";
  writeAtomic(ids, JSON.stringify({ users: ctx.dataset.userIds, items: ctx.dataset.itemIds }, null, 2) + "\n");
  return { tensors: file, ids };
}
