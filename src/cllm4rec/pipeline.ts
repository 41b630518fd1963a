// From a run description to a trained model and its report: dataset, backbone, model,
// trainer, final evaluation next to a popularity baseline. Also reopens a finished run
// (evaluate / recommend / export).
import * as fs from "node:fs";
import * as path from "node:path";
import { native, defaultDevice, Tensor } from "../engine";
import { scoreUsers } from "./predict/score";
import type { Device } from "../engine";
import { Gpt2 } from "../nn/gpt2";
import { loadGpt2Folder } from "../io/gpt2-folder";
import { ensureTinyModel, randomGpt2Weights } from "../io/tiny-gpt2";
import { RecTokenizer } from "../io/tokenizer";
import { writeSafetensors } from "../io/safetensors";
import { loadDataset, Rng, Dataset, DataSpec, LoadOptions } from "./data";
import { evaluateRanking, EvalResult, topK, TestExclude, DEFAULT_TEST_EXCLUDE } from "./metrics";
import { PopularityRecommender } from "../baselines";
import { Cllm4RecModel } from "./model/model";
import { TrainConfig, withLegacyProtocol } from "./train/config";
import { Trainer, TrainResult, valScore } from "./train/trainer";
import { datasetCorpora } from "./train/corpora";
import { ensureDir, loadTensors, writeJsonAtomic } from "./train/checkpoint";
import { fmtSecs } from "./train/progress";

export interface RunSpec {
  data: DataSpec;
  dataOptions: Omit<LoadOptions, "log" | "cardFile" | "cacheDir">;
  /** a Hugging Face GPT-2 folder; undefined = the tiny default backbone */
  modelDir?: string;
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
  /** block-weight precision of the frozen backbone on the CPU (bf16 needs AVX512_BF16) */
  dtype?: "f32" | "bf16";
  log?: (s: string) => void;
  cardFile?: string;
}

/** Loads the dataset and backbone and builds a freshly initialised model. */
export async function openRun(spec: RunSpec, o: OpenOptions = {}): Promise<RunContext> {
  const log = o.log ?? (() => {});
  if (o.threads) native().setNumThreads(o.threads);
  const t0 = Date.now();
  const dataset = await loadDataset(spec.data, { ...spec.dataOptions, cacheDir: path.join(cacheDir(), "datasets"), cardFile: o.cardFile, log });
  log(`dataset ready in ${fmtSecs((Date.now() - t0) / 1000)}`);
  const modelDir = spec.modelDir ?? ensureTinyModel(path.join(cacheDir(), "models"));
  const folder = loadGpt2Folder(modelDir);
  const device = defaultDevice(o.device ?? "auto", log);
  // LLM-Scratch / LLM-FtAll train the backbone too; every other run keeps it frozen
  const ab = spec.config.ablation;
  const weights = ab === "llm-scratch" ? randomGpt2Weights(folder.config, spec.config.seed) : folder.weights;
  const backbone = new Gpt2(folder.config, weights, device, { dtype: o.dtype, trainable: ab === "llm-scratch" || ab === "llm-ftall" });
  if (backbone.dtypeNote) log(`--dtype bf16: ${backbone.dtypeNote}`);
  const c = folder.config;
  log(`backbone ${spec.modelDir ? modelDir : "tiny default (" + modelDir + ")"}: ${c.nLayer} layers, d=${c.nEmbd}, ${c.nHead} heads, ` +
    `vocab ${c.vocabSize} (+${dataset.numUsers} users, +${dataset.numItems} items), tokenizer ${folder.tokenizerSource}, device ${device}, ${backbone.weightDtype} weights` +
    (device === "cpu" ? `, ${native().numThreads()} threads` : ""));
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
  e === "train" ? "test ranks all items except the user's training items (authors' protocol)"
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

export async function popularityMetrics(ds: Dataset, testExclude: TestExclude = DEFAULT_TEST_EXCLUDE): Promise<{ val: EvalResult; test: EvalResult }> {
  const pop = new PopularityRecommender();
  await pop.fit(ds);
  return { val: await evaluateRanking((u) => pop.score(u), ds, "val"), test: await evaluateRanking((u) => pop.score(u), ds, "test", { testExclude }) };
}

/** Trains (or resumes) a run into outDir and writes the report. */
export async function trainRun(spec: RunSpec, outDir: string, o: OpenOptions & { resume?: boolean } = {}): Promise<TrainReport> {
  const log = o.log ?? ((s: string) => console.log(s));
  const start = Date.now();
  ensureDir(outDir);
  const runFile = path.join(outDir, "run.json");
  if (o.resume && fs.existsSync(runFile)) {
    const saved = JSON.parse(fs.readFileSync(runFile, "utf8")) as RunSpec;
    saved.config = withLegacyProtocol(saved.config);
    if (JSON.stringify(saved) !== JSON.stringify(spec)) log("resume: using the run description saved in run.json (flags that differ are ignored)");
    spec = saved;
  } else {
    if (!o.resume && fs.existsSync(path.join(outDir, "state.json")))
      throw new Error(`${outDir} already holds a run; pass --resume to continue it or choose another --out`);
    writeJsonAtomic(runFile, spec);
  }
  const ctx = await openRun(spec, { ...o, log, cardFile: path.join(outDir, "dataset-card.json") });
  const corpora = datasetCorpora(ctx.dataset, ctx.tokenizer, {
    batchSize: spec.config.batchSize,
    maxTokens: Math.min(spec.config.maxTokens, ctx.backbone.config.nPositions),
    lengthAware: spec.config.lengthAware,
  });
  const trainer = new Trainer({ model: ctx.model, corpora, split: ctx.dataset, config: spec.config, outDir, log, backboneRef: ctx.backboneRef });
  if (o.resume && !trainer.resume()) log(`resume: nothing saved in ${outDir} yet, starting from the beginning`);
  const result: TrainResult = await trainer.run();
  log("final evaluation with the selected embeddings...");
  const kind = spec.config.ablation === "prerec" ? "prerec" : "rec";
  const tEval = Date.now();
  const cllm = { val: await trainer.evaluate("val", kind), test: await trainer.evaluate("test", kind) };
  const scoreSecondsPer1k = (Date.now() - tEval) / 1000 / Math.max(1, cllm.val.users + cllm.test.users) * 1000;
  const testExclude = spec.config.testExclude ?? DEFAULT_TEST_EXCLUDE;
  const popularity = await popularityMetrics(ctx.dataset, testExclude);
  const report: TrainReport = {
    dataset: ctx.dataset.name, device: ctx.device, backbone: ctx.backboneRef, config: spec.config,
    cllm4rec: cllm, popularity, bestEpoch: result.best.valEpoch, stoppedEarly: result.stoppedEarly,
    stageSeconds: result.stageSeconds, stageEpochs: result.stageEpochs, totalSeconds: (Date.now() - start) / 1000, scoreSecondsPer1k,
  };
  writeJsonAtomic(path.join(outDir, "report.json"), report);
  const perEpoch = Object.entries(result.stageEpochs).filter(([, n]) => n > 0)
    .map(([s, n]) => `${s}: ${n} epoch(s), ${fmtSecs(result.stageSeconds[s as keyof typeof result.stageSeconds] / n)}/epoch`).join("; ");
  const md = [`# CLLM4Rec run: ${ctx.dataset.name}`, "", `device ${ctx.device}; backbone ${ctx.backboneRef}`, "",
    reportTable(report, testExclude), "", `selection score (val R@20+R@40+N@100): ${valScore(cllm.val).toFixed(4)}`,
    `time: ${fmtSecs(report.totalSeconds)} total; ${perEpoch}`, ""].join("\n");
  fs.writeFileSync(path.join(outDir, "report.md"), md);
  log("\n" + reportTable(report, testExclude));
  log(`\ntotal ${fmtSecs(report.totalSeconds)}; ${perEpoch}\nrun saved in ${outDir} (report.md, report.json, metrics.jsonl, best.safetensors)`);
  trainer.dispose();
  return report;
}

/** Reopens a finished run with its selected embeddings loaded. */
export async function loadRun(outDir: string, o: OpenOptions = {}): Promise<RunContext> {
  const runFile = path.join(outDir, "run.json");
  if (!fs.existsSync(runFile)) throw new Error(`${outDir} is not a run folder (no run.json)`);
  const spec = JSON.parse(fs.readFileSync(runFile, "utf8")) as RunSpec;
  spec.config = withLegacyProtocol(spec.config);
  const ctx = await openRun(spec, o);
  const file = ["best.safetensors", "tables.safetensors"].map((f) => path.join(outDir, f)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`${outDir} has no checkpoint (best.safetensors or tables.safetensors)`);
  const { I, J, d } = ctx.model;
  const shapes: Record<string, number[]> = { "collab.user": [I, d], "collab.item": [J, d], "content.user": [I, d], "content.item": [J, d] };
  const targets: Record<string, Tensor> = { "collab.user": ctx.model.collab.user, "collab.item": ctx.model.collab.item, "content.user": ctx.model.content.user, "content.item": ctx.model.content.item };
  // a trained backbone (llm-scratch, llm-ftall) is saved with the tables
  if (ctx.backbone.trainable)
    for (const [n, t] of ctx.backbone.namedParameters()) [shapes[`backbone.${n}`], targets[`backbone.${n}`]] = [[...t.shape], t];
  const { data } = loadTensors(file, shapes);
  for (const [n, t] of Object.entries(targets)) {
    const src = Tensor.from(data[n], t.shape, { device: t.device });
    t.copyFrom(src);
    src.dispose();
  }
  return ctx;
}

/** Prompt batches for scoring a reopened run (no training corpora are built). */
export function scoringCorpora(ctx: RunContext) {
  return datasetCorpora(ctx.dataset, ctx.tokenizer, { batchSize: 64, maxTokens: Math.min(ctx.spec.config.maxTokens, ctx.backbone.config.nPositions), lengthAware: false });
}

/** Top-M recommendations (original ids) for users given by their original ids. */
export function recommend(ctx: RunContext, userIds: string[], topM: number): { user: string; items: { item: string; score: number }[] }[] {
  const index = new Map(ctx.dataset.userIds.map((u, i) => [u, i]));
  const unknown = userIds.filter((u) => !index.has(u));
  if (unknown.length)
    throw new Error(`unknown user id(s): ${unknown.slice(0, 10).join(", ")}${unknown.length > 10 ? " ..." : ""} ` +
      `(the run knows ${ctx.dataset.numUsers} users, e.g. ${ctx.dataset.userIds.slice(0, 3).join(", ")})`);
  if (!(Number.isInteger(topM) && topM > 0)) throw new RangeError(`--top must be a positive integer, got ${topM}`);
  const users = userIds.map((u) => index.get(u)!);
  const corpora = scoringCorpora(ctx);
  const rng = new Rng(`${ctx.spec.config.seed}:recommend`);
  const kind = ctx.spec.config.ablation === "prerec" ? "prerec" : "rec";
  const J = ctx.dataset.numItems;
  const scores = scoreUsers(ctx.model, corpora, users, rng, kind, 64, ctx.spec.config.ablation === "fixord");
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
  for (const [name, t] of [["collab.user", m.collab.user], ["collab.item", m.collab.item], ["content.user", m.content.user], ["content.item", m.content.item]] as const)
    tensors.set(name, { shape: [...t.shape], data: t.toFloat32() });
  ensureDir(path.dirname(path.resolve(file)));
  writeSafetensors(file, tensors, { format: "cllm4rec-embeddings-v1", note: "rows follow the id maps in the .ids.json file beside this one" });
  const ids = file.replace(/\.safetensors$/, "") + ".ids.json";
  writeJsonAtomic(ids, { users: ctx.dataset.userIds, items: ctx.dataset.itemIds });
  return { tensors: file, ids };
}
