// The command line: train (default), evaluate, recommend, export, generate, pretrain.
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs, helpText, FLAGS, type ParsedArgs } from "./flags";
import { PAPER_DEFAULTS, QUICK_PRESET, type TrainConfig, validateConfig } from "../cllm4rec/train/config";
import {
  type RunSpec,
  trainRun,
  loadRun,
  recommend,
  exportEmbeddings,
  reportTable,
  popularityMetrics,
  type TrainReport,
  cacheDir,
  scoringCorpora,
} from "../cllm4rec/pipeline";
import type { DataSpec } from "../cllm4rec/data";
import { evaluateRun } from "../cllm4rec/predict/score";
import { runComparison } from "./compare";
import { ensureTinyModel } from "../io/tiny_gpt2";
import { loadGpt2Folder } from "../io/gpt2_folder";
import { Gpt2 } from "../nn/gpt2";
import { greedyGenerate } from "../nn/generate";
import { defaultDevice, native } from "../engine";
import { serveCommand } from "../serve/command";
import { enableProfile, profileReport, formatProfile } from "../engine/profile";
import * as fs from "node:fs";
import { pretrainCommand } from "./pretrain";
import type { DefaultBackbone } from "../cllm4rec/pretrain/default_backbone";
import { writeTrainingCurves } from "../cllm4rec/report/curves";

function dataSpec(f: ParsedArgs["flags"]): DataSpec {
  const raw = String(f.data ?? "synthetic");
  const [kind, p] = raw.split(/=(.*)/s, 2);
  const need = () => {
    if (!p) throw new Error(`--data ${kind} needs a path: --data ${kind} PATH`);
    return path.resolve(p);
  };
  switch (kind) {
    case "synthetic": {
      const s: DataSpec = { kind: "synthetic" };
      if (f["synthetic-users"] !== undefined) s.numUsers = f["synthetic-users"] as number;
      if (f["synthetic-items"] !== undefined) s.numItems = f["synthetic-items"] as number;
      return s;
    }
    case "movielens":
      return { kind: "movielens", dir: need() };
    case "npz": {
      // the authors' split is used as is: preprocessing flags would silently do nothing
      const pre = ["rating-threshold", "user-core", "item-core", "split-seed"].filter((k) => f[k] !== undefined);
      if (pre.length)
        throw new Error(
          `--data npz: ${pre.map((k) => "--" + k).join(", ")} do(es) not apply (the folder's train/val/test matrices are used as is)`,
        );
      return { kind: "npz", dir: need() };
    }
    case "amazon":
      return { kind: "amazon", file: need(), ...(f["amazon-meta"] ? { meta: path.resolve(String(f["amazon-meta"])) } : {}) };
    case "generic": {
      const g: DataSpec = { kind: "generic", interactions: need() };
      if (f["item-text"]) g.itemText = path.resolve(String(f["item-text"]));
      if (f["user-text"]) g.userText = path.resolve(String(f["user-text"]));
      if (f["review-text"]) g.reviews = path.resolve(String(f["review-text"]));
      return g;
    }
    default:
      throw new Error(`--data: unknown kind '${kind}' (synthetic, movielens, amazon, generic or npz)`);
  }
}

function trainConfig(f: ParsedArgs["flags"], synthetic: boolean): TrainConfig {
  const preset = String(f.preset ?? (synthetic ? "quick" : "paper"));
  const c: TrainConfig = { ...PAPER_DEFAULTS, ...(preset === "quick" ? QUICK_PRESET : {}) };
  for (const def of FLAGS) if (def.config && f[def.name] !== undefined) (c as unknown as Record<string, unknown>)[def.config] = f[def.name];
  validateConfig(c);
  return c;
}

/** More threads than this only adds contention (and the OS would refuse far more). */
export const MAX_THREADS = 1024;

/** Flags that describe the data or the backbone: --resume takes them from run.json. */
const DATA_FLAGS = [
  "data",
  "item-text",
  "user-text",
  "review-text",
  "amazon-meta",
  "rating-threshold",
  "user-core",
  "item-core",
  "split-seed",
  "synthetic-users",
  "synthetic-items",
  "strict",
  "model",
  "backbone",
];

/** Files of the run folder that export must never overwrite. */
const RUN_FILES = [
  "run.json",
  "state.json",
  "report.json",
  "report.md",
  "metrics.jsonl",
  "dataset-card.json",
  "run.lock",
  "compare.md",
  "compare.json",
  "compare.svg",
];

function needOut(f: ParsedArgs["flags"]): string {
  if (!f.out) throw new Error("this command needs --out DIR (a run folder made by training)");
  return path.resolve(String(f.out));
}

export async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const f = args.flags;
  if (f.help) {
    console.log(helpText());
    return;
  }
  if (args.positional.length) throw new Error(`unexpected argument(s): ${args.positional.join(" ")} (see --help)`);
  if (f.threads !== undefined && !(Number.isInteger(f.threads) && (f.threads as number) >= 1 && (f.threads as number) <= MAX_THREADS))
    throw new RangeError(
      `--threads must be an integer in 1..${MAX_THREADS}, got ${f.threads} (this machine has ${os.cpus().length} cores)`,
    );
  const open = {
    device: f.device as string | undefined,
    threads: f.threads as number | undefined,
    dtype: f.dtype as "f32" | "fp32" | "bf16" | undefined,
    log: (s: string) => console.log(s),
    allowDataChange: !!f["allow-data-change"],
  };
  switch (args.command) {
    case "train": {
      const data = dataSpec(f);
      const spec: RunSpec = {
        data,
        dataOptions: {
          ...(f["rating-threshold"] !== undefined ? { positiveThreshold: f["rating-threshold"] as number } : {}),
          ...(f["user-core"] !== undefined ? { userCore: f["user-core"] as number } : {}),
          ...(f["item-core"] !== undefined ? { itemCore: f["item-core"] as number } : {}),
          ...(f["split-seed"] !== undefined ? { seed: f["split-seed"] as number } : {}),
          ...(f.strict ? { strict: true } : {}),
        },
        ...(f.model ? { modelDir: path.resolve(String(f.model)) } : {}),
        ...(f.backbone ? { backbone: f.backbone as DefaultBackbone } : {}),
        config: trainConfig(f, data.kind === "synthetic"),
      };
      const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
      const out = path.resolve(String(f.out ?? path.join("runs", `${data.kind}-${stamp}`)));
      console.log(`cllm4rec train: data ${data.kind}, out ${out}`);
      if (f.profile) enableProfile({ sync: f.device !== "cpu" && native().cudaDeviceCount() > 0 });
      const resumeConfig: Partial<TrainConfig> = {};
      for (const def of FLAGS)
        if (def.config && f[def.name] !== undefined) (resumeConfig as Record<string, unknown>)[def.config] = f[def.name];
      const report: TrainReport = await trainRun(spec, out, {
        ...open,
        resume: !!f.resume,
        resumeConfig,
        resumeDataGiven: DATA_FLAGS.some((n) => f[n] !== undefined),
      });
      if (f.profile) {
        const prof = profileReport();
        console.log(formatProfile(prof));
        fs.writeFileSync(path.join(out, "profile.json"), JSON.stringify(prof, null, 2) + "\n");
      }
      console.log(
        `training curves: ${writeTrainingCurves(out, `CLLM4Rec on ${data.kind}${spec.config.ablation !== "none" ? ` (ablation ${spec.config.ablation})` : ""}`)}`,
      );
      if (f.compare) await runComparison(out, report, open);
      return;
    }
    case "evaluate": {
      const out = needOut(f);
      const ctx = await loadRun(out, open);
      const corpora = scoringCorpora(ctx);
      // --test-exclude re-scores a saved run under the other protocol; default: the run's own
      const testExclude = (f["test-exclude"] as TrainConfig["testExclude"] | undefined) ?? ctx.spec.config.testExclude;
      const c = { ...ctx.spec.config, testExclude };
      const cllm4rec = {
        val: await evaluateRun(ctx.model, corpora, ctx.dataset, "val", c),
        test: await evaluateRun(ctx.model, corpora, ctx.dataset, "test", c),
      };
      console.log(reportTable({ cllm4rec, popularity: await popularityMetrics(ctx.dataset, testExclude) }, testExclude));
      return;
    }
    case "recommend": {
      const out = needOut(f);
      if (!f.users) throw new Error("recommend needs --users ID[,ID...] (original user ids)");
      // stdout is the JSON; warnings (e.g. --allow-data-change) go to stderr
      const ctx = await loadRun(out, { ...open, log: (s) => console.error(s) });
      const users = String(f.users)
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      if (users.length === 0) throw new Error(`--users names no user id ('${String(f.users)}'); give original ids separated by commas`);
      const recs = recommend(ctx, users, (f.top as number) ?? 10);
      console.log(JSON.stringify(recs, null, 2));
      return;
    }
    case "generate": {
      // sanity check of a backbone: greedy continuation of --prompt
      const dir = f.model ? path.resolve(String(f.model)) : ensureTinyModel(path.join(cacheDir(), "models"));
      const folder = loadGpt2Folder(dir);
      const gpt = new Gpt2(folder.config, folder.weights, defaultDevice(String(f.device ?? "auto"), console.log));
      const tokens = (f.tokens as number | undefined) ?? 10;
      if (!(Number.isInteger(tokens) && tokens >= 1 && tokens <= 100000))
        throw new RangeError(`--tokens must be an integer in 1..100000, got ${tokens}`);
      const prompt = String(f.prompt ?? "The capital of France is");
      const ids = folder.tokenizer.encode(prompt);
      const next = greedyGenerate(gpt, ids, tokens);
      console.log(`${prompt}[${folder.tokenizer.decode(next)}]`);
      return;
    }
    case "serve":
      return serveCommand(f);
    case "pretrain": {
      await pretrainCommand(f, dataSpec, open);
      return;
    }
    case "export": {
      const out = needOut(f);
      const to = path.resolve(String(f.to ?? path.join(out, "embeddings.safetensors")));
      if (!to.endsWith(".safetensors")) throw new Error(`--to must name a .safetensors file, got ${to}`);
      const ids = to.replace(/\.safetensors$/, "") + ".ids.json";
      for (const target of [to, ids]) {
        const rel = path.relative(out, target);
        if (
          RUN_FILES.includes(rel) ||
          rel.split(path.sep)[0] === "checkpoint" ||
          (fs.existsSync(target) && fs.statSync(target).isDirectory())
        )
          throw new Error(
            `--to ${target} would overwrite ${fs.existsSync(target) && fs.statSync(target).isDirectory() ? "a folder" : "a file of the run itself"}; choose another name`,
          );
      }
      const ctx = await loadRun(out, open);
      const r = exportEmbeddings(ctx, to);
      console.log(`wrote ${r.tensors} (collab.user, collab.item, content.user, content.item) and ${r.ids}`);
      return;
    }
  }
}
