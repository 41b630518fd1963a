// train(options): the `train` command as a function — trains (or resumes) a run into a
// folder and returns it reopened with its selected embeddings.
import * as path from "node:path";
import { trainRun, type RunSpec } from "../cllm4rec/pipeline";
import type { DataSpec, LoadOptions } from "../cllm4rec/data";
import { PAPER_DEFAULTS, QUICK_PRESET, type TrainConfig, validateConfig } from "../cllm4rec/train/config";
import { openRun, type Run } from "./run";

export interface TrainOptions {
  /** the run folder to write (must not hold a run unless resume is set) */
  out: string;
  /** default { kind: "synthetic" }: the built-in synthetic dataset */
  data?: DataSpec;
  /** preprocessing: positiveThreshold, userCore, itemCore, seed, strict */
  dataOptions?: RunSpec["dataOptions"];
  /** a Hugging Face GPT-2 folder; default: the one `backbone` names */
  model?: string;
  /** without `model`: "pretrained" (default: a small GPT-2 pretrained once on the data's training text, cached) or "random" (tiny, random) */
  backbone?: "pretrained" | "random";
  /** "quick" (default for synthetic data) or "paper" (SPEC.md; default otherwise) */
  preset?: "quick" | "paper";
  /** hyper-parameters over the preset */
  config?: Partial<TrainConfig>;
  resume?: boolean;
  device?: "auto" | "cpu" | "cuda";
  threads?: number;
  /** progress lines (default: console.log) */
  log?: (line: string) => void;
}

/** The hyper-parameters a run would use: preset defaults, then `config` (validated). */
export function resolveConfig(preset: "quick" | "paper", config: Partial<TrainConfig> = {}): TrainConfig {
  if (preset !== "quick" && preset !== "paper") throw new RangeError(`train: preset must be quick or paper, got '${String(preset)}'`);
  const unknown = Object.keys(config).filter((k) => !(k in PAPER_DEFAULTS));
  if (unknown.length)
    throw new RangeError(`train: unknown config field(s) ${unknown.join(", ")} (known: ${Object.keys(PAPER_DEFAULTS).join(", ")})`);
  const c: TrainConfig = { ...PAPER_DEFAULTS, ...(preset === "quick" ? QUICK_PRESET : {}), ...config };
  validateConfig(c);
  return c;
}

/** Trains CLLM4Rec end to end (SPEC.md) and returns the run, reopened; run.report has the metrics. */
export async function train(o: TrainOptions): Promise<Run> {
  if (!o || typeof o.out !== "string" || o.out === "") throw new TypeError("train: options.out (the run folder) is required");
  const data: DataSpec = o.data ?? { kind: "synthetic" };
  const spec: RunSpec = {
    data,
    dataOptions: (o.dataOptions ?? {}) as Omit<LoadOptions, "log" | "cardFile" | "cacheDir">,
    ...(o.model ? { modelDir: path.resolve(o.model) } : {}),
    ...(o.backbone ? { backbone: o.backbone } : {}),
    config: resolveConfig(o.preset ?? (data.kind === "synthetic" ? "quick" : "paper"), o.config),
  };
  const out = path.resolve(o.out);
  const log = o.log ?? ((s: string) => console.log(s));
  await trainRun(spec, out, { device: o.device, threads: o.threads, log, resume: !!o.resume });
  return openRun(out, { device: o.device, threads: o.threads });
}
