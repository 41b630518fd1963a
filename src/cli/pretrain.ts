// `pretrain`: flags -> texts (a dataset's training split and/or --text files) -> a GPT-2
// trained from scratch, written as a Hugging Face folder that --model and generate load.
import * as path from "node:path";
import type { ParsedArgs } from "./flags";
import type { DataSpec } from "../cllm4rec/data";
import { loadDataset } from "../cllm4rec/data";
import { cacheDir } from "../cllm4rec/pipeline";
import { PRETRAIN_DEFAULTS, type PretrainOptions, pretrain } from "../cllm4rec/pretrain/pretrain";
import { datasetTexts, readTextFile } from "../cllm4rec/pretrain/texts";
import { defaultDevice, native } from "../engine";

type Flags = ParsedArgs["flags"];

/** Pretrain options from the flags (the pretrain group, plus --batch-size and --seed). */
export function pretrainOptions(f: Flags): PretrainOptions {
  const o: PretrainOptions = { ...PRETRAIN_DEFAULTS };
  const num = (flag: string, key: keyof PretrainOptions) => {
    if (f[flag] !== undefined) (o as unknown as Record<string, number>)[key] = f[flag] as number;
  };
  num("layers", "layers");
  num("d", "d");
  num("heads", "heads");
  num("context", "context");
  num("positions", "positions");
  num("max-steps", "maxSteps");
  num("batch-size", "batch");
  num("lr", "lr");
  num("warmup", "warmup");
  num("weight-decay", "weightDecay");
  num("grad-clip", "clip");
  num("seed", "seed");
  num("val-every", "valEvery");
  num("checkpoint-every", "checkpointEvery");
  o.minLr = f["min-lr"] !== undefined ? (f["min-lr"] as number) : o.lr / 10;
  if (f.positions === undefined) o.positions = Math.max(o.positions, o.context);
  if (f.warmup === undefined) o.warmup = Math.min(o.warmup, Math.floor(o.maxSteps / 10));
  return o;
}

export async function pretrainCommand(
  f: Flags,
  dataSpec: (f: Flags) => DataSpec,
  open: { device?: string; threads?: number; log: (s: string) => void },
): Promise<void> {
  if (!f.out) throw new Error("pretrain needs --out DIR (the Hugging Face folder to write)");
  if (!f.data && !f.text)
    throw new Error("pretrain needs text: --data KIND PATH (its training split's texts) and/or --text FILE[,FILE...]");
  if (open.threads) native().setNumThreads(open.threads);
  const out = path.resolve(String(f.out));
  const docs: string[] = [];
  if (f.data) {
    const ds = await loadDataset(dataSpec(f), { cacheDir: path.join(cacheDir(), "datasets"), log: open.log });
    const texts = datasetTexts(ds);
    open.log(`pretrain: ${texts.length} texts from the training split of ${ds.name}`);
    docs.push(...texts);
  }
  if (f.text) {
    for (const file of String(f.text)
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) {
      const texts = readTextFile(path.resolve(file));
      open.log(`pretrain: ${texts.length} documents from ${file}`);
      docs.push(...texts);
    }
  }
  const device = defaultDevice(open.device ?? "auto", open.log);
  pretrain(docs, out, pretrainOptions(f), { device, resume: !!f.resume, log: open.log });
}
