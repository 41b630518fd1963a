// The default backbone: a small GPT-2 pretrained once on the run's own training-split text
// (item descriptions, user profiles, training reviews), deterministic and cached by a hash of
// that text and the pretraining options. A random frozen network cannot model text at all
// (its C-loss stays at ln V), so without --model this is what gives CLLM4Rec a content LLM.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Device } from "../../engine";
import type { Dataset } from "../data";
import { PRETRAIN_DEFAULTS, type PretrainOptions, pretrain } from "./pretrain";
import { datasetTexts } from "./texts";

/** What `--backbone` picks when no --model is given. */
export type DefaultBackbone = "pretrained" | "random";
export const DEFAULT_BACKBONES: readonly DefaultBackbone[] = ["pretrained", "random"];

/** The tiny random backbone's shape (2 layers, d = 128, 2 heads), trained for 300 steps of 8 x 128 tokens. */
export const DEFAULT_BACKBONE_PRETRAIN: PretrainOptions = {
  ...PRETRAIN_DEFAULTS,
  layers: 2,
  d: 128,
  heads: 2,
  context: 128,
  positions: 1024,
  maxSteps: 300,
  warmup: 20,
  valEvery: 50,
  checkpointEvery: 100,
  seed: 0,
};

const FORMAT = "cllm4rec-default-backbone-v1";

/** The cache folder of a dataset's default backbone: one per (training text, options). */
export function defaultBackboneDir(modelsDir: string, docs: readonly string[], o: PretrainOptions = DEFAULT_BACKBONE_PRETRAIN): string {
  const h = crypto.createHash("sha256").update(FORMAT).update(JSON.stringify(o));
  for (const d of docs) h.update("\u0000").update(d);
  return path.join(modelsDir, `pretrained-${h.digest("hex").slice(0, 16)}`);
}

/**
 * The dataset's default backbone folder, pretraining it first if it is not cached. Pretraining
 * runs in `<dir>.partial` and is renamed into place when it ends, so a cached folder is always
 * complete; a killed pretraining resumes exactly from its last checkpoint on the next start.
 */
export function ensureDefaultBackbone(
  ds: Dataset,
  modelsDir: string,
  device: Device,
  log: (s: string) => void,
  o: PretrainOptions = DEFAULT_BACKBONE_PRETRAIN,
): string {
  const docs = datasetTexts(ds);
  if (docs.length === 0)
    throw new Error(
      `${ds.name} has no text (no item or user descriptions, no reviews) to pretrain the default backbone on; ` +
        "give a backbone with --model DIR, or --backbone random for the tiny random one",
    );
  const dir = defaultBackboneDir(modelsDir, docs, o);
  if (fs.existsSync(path.join(dir, "config.json"))) return dir;
  const partial = `${dir}.partial`;
  const resume = fs.existsSync(path.join(partial, "state.json"));
  log(
    `default backbone: pretraining a ${o.layers}-layer d=${o.d} GPT-2 once on the training text of ${ds.name} ` +
      `(${docs.length} documents, ${o.maxSteps} steps; cached in ${dir}; --backbone random skips this)`,
  );
  pretrain(docs, partial, o, { device, resume, log, finalDir: dir });
  fs.rmSync(path.join(partial, "checkpoint.safetensors"), { force: true }); // AdamW moments: only a resume needs them
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(partial, dir);
  return dir;
}
