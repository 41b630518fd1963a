// Pretraining a GPT-2 from scratch on text: the documents are BPE-encoded, joined with
// <|endoftext|> into one stream, and split into a training part and a held-out part
// (validation perplexity). Each step trains on `batch` windows of `context` tokens at
// offsets drawn from (seed, step) alone, so a resumed run sees exactly the batches an
// uninterrupted one would. AdamW, warmup + cosine, global-norm clipping.
// The output folder is a Hugging Face GPT-2 folder at every checkpoint; training state
// (weights + Adam moments in one atomically written file, state.json last) sits beside it.
import * as fs from "node:fs";
import * as path from "node:path";
import { tidy, backward, noGrad, native } from "../../engine";
import type { Device } from "../../engine";
import { Gpt2 } from "../../nn/gpt2";
import { lmLoss } from "../../nn/lm";
import { Adam } from "../../nn/adam";
import { clipGradNorm } from "../../nn/clip";
import { cosineLr } from "../../nn/schedule";
import { defaultTokenizer, type TextTokenizer } from "../../io/tokenizer";
import { tinyGpt2Weights } from "../../io/tiny_gpt2";
import { writeGpt2Folder } from "../../io/gpt2_write";
import { readSafetensors, writeSafetensors, floatData } from "../../io/safetensors";
import type { Gpt2Config } from "../../io/gpt2_config";
import { Rng } from "../data";
import { writeAtomic } from "../run/fs";
import { stringifyRunJson } from "../run/json";
import { fmtSecs } from "../train/progress";

const EOT = 50256;
const STATE_FORMAT = 1;

export interface PretrainOptions {
  layers: number;
  d: number;
  heads: number;
  /** tokens per training window */
  context: number;
  /** rows of the position table (>= context; CLLM4Rec documents may be longer than the training windows) */
  positions: number;
  maxSteps: number;
  /** windows per step */
  batch: number;
  lr: number;
  /** cosine floor (default lr / 10) */
  minLr: number;
  warmup: number;
  weightDecay: number;
  /** global gradient-norm limit (0 = off) */
  clip: number;
  seed: number;
  valEvery: number;
  checkpointEvery: number;
  /** fraction of the token stream held out for validation */
  valFraction: number;
  /** at most this many validation windows per evaluation */
  valWindows: number;
}

export const PRETRAIN_DEFAULTS: PretrainOptions = {
  layers: 2,
  d: 128,
  heads: 4,
  context: 128,
  positions: 1024,
  maxSteps: 1000,
  batch: 8,
  lr: 3e-3,
  minLr: 3e-4,
  warmup: 50,
  weightDecay: 0.1,
  clip: 1,
  seed: 0,
  valEvery: 100,
  checkpointEvery: 100,
  valFraction: 0.05,
  valWindows: 32,
};

export function validatePretrainOptions(o: PretrainOptions): void {
  const posInt = (k: keyof PretrainOptions) => {
    if (!Number.isSafeInteger(o[k]) || (o[k] as number) <= 0)
      throw new RangeError(`pretrain: --${flagName(k)} must be a positive integer, got ${o[k]}`);
  };
  for (const k of [
    "layers",
    "d",
    "heads",
    "context",
    "positions",
    "maxSteps",
    "batch",
    "valEvery",
    "checkpointEvery",
    "valWindows",
  ] as const)
    posInt(k);
  if (o.d % o.heads !== 0) throw new RangeError(`pretrain: --d ${o.d} is not divisible by --heads ${o.heads}`);
  if (o.context < 2) throw new RangeError(`pretrain: --context must be at least 2, got ${o.context}`);
  if (o.positions < o.context) throw new RangeError(`pretrain: --positions ${o.positions} is smaller than --context ${o.context}`);
  for (const k of ["lr", "minLr", "weightDecay", "clip", "warmup"] as const)
    if (!(o[k] >= 0) || !Number.isFinite(o[k]))
      throw new RangeError(`pretrain: --${flagName(k)} must be a finite number >= 0, got ${o[k]}`);
  if (!(o.lr > 0)) throw new RangeError(`pretrain: --lr must be > 0, got ${o.lr}`);
  if (!(o.valFraction > 0 && o.valFraction < 0.5))
    throw new RangeError(`pretrain: validation fraction must be in (0, 0.5), got ${o.valFraction}`);
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new RangeError(`pretrain: --seed must be an integer >= 0, got ${o.seed}`);
}

function flagName(k: string): string {
  return (
    (
      {
        maxSteps: "max-steps",
        minLr: "min-lr",
        weightDecay: "weight-decay",
        clip: "grad-clip",
        valEvery: "val-every",
        checkpointEvery: "checkpoint-every",
        valWindows: "val-windows",
        valFraction: "val-fraction",
        batch: "batch-size",
      } as Record<string, string>
    )[k] ?? k
  );
}

export interface PretrainResult {
  steps: number;
  trainTokens: number;
  valTokens: number;
  finalLoss: number;
  valLoss: number;
  valPerplexity: number;
  seconds: number;
}

interface Streams {
  train: Int32Array;
  val: Int32Array;
  context: number;
}

/** Encodes documents (shuffled by seed) into one stream; the last valFraction of it is held out. */
export function tokenStreams(docs: readonly string[], tok: TextTokenizer, o: PretrainOptions, log: (s: string) => void): Streams {
  if (!docs.length) throw new Error("pretrain: no text (give --data with texts and/or --text FILE)");
  const order = new Rng(`${o.seed}:pretrain:docs`).shuffle(docs.map((_, i) => i));
  const ids: number[] = [];
  for (const i of order) {
    for (const t of tok.encode(docs[i])) ids.push(t);
    ids.push(EOT);
  }
  const all = Int32Array.from(ids);
  let context = o.context;
  // a tiny text still trains: windows shrink to fit both parts
  const maxContext = Math.floor(all.length / 2);
  if (maxContext < 2) throw new Error(`pretrain: the text has only ${all.length} tokens; need at least 4`);
  if (context > maxContext) {
    log(`pretrain: only ${all.length} tokens of text; training windows shrink from ${context} to ${maxContext} tokens`);
    context = maxContext;
  }
  const valLen = Math.max(context, Math.floor(all.length * o.valFraction));
  return { train: all.subarray(0, all.length - valLen), val: all.subarray(all.length - valLen), context };
}

function trainBatch(s: Streams, o: PretrainOptions, step: number): Int32Array {
  const rng = new Rng(`${o.seed}:pretrain:step:${step}`);
  const T = s.context;
  const out = new Int32Array(o.batch * T);
  const span = s.train.length - T + 1;
  for (let b = 0; b < o.batch; b++) out.set(s.train.subarray(rng.int(span)).subarray(0, T), b * T);
  return out;
}

/** Mean next-token loss over up to valWindows non-overlapping held-out windows. */
function validate(model: Gpt2, s: Streams, o: PretrainOptions): number {
  const T = s.context;
  const n = Math.min(o.valWindows, Math.max(1, Math.floor(s.val.length / T)));
  let sum = 0,
    count = 0;
  for (let start = 0; start < n; start += o.batch) {
    const rows = Math.min(o.batch, n - start);
    const ids = s.val.slice(start * T, (start + rows) * T);
    const loss = noGrad(() => tidy(() => lmLoss(model, ids, rows, T).item()));
    sum += loss * rows;
    count += rows;
  }
  return sum / count;
}

function modelConfig(o: PretrainOptions): Gpt2Config {
  return {
    vocabSize: 50257,
    nPositions: o.positions,
    nEmbd: o.d,
    nLayer: o.layers,
    nHead: o.heads,
    layerNormEpsilon: 1e-5,
    activation: "gelu_new",
  };
}

const SIZE_KEYS = ["layers", "d", "heads", "context", "positions", "seed"] as const;

export interface PretrainRunOptions {
  device: Device;
  resume?: boolean;
  log?: (s: string) => void;
  /** progress lines at most this often (ms) */
  progressEveryMs?: number;
  /** the folder the last line names (default out): where the caller moves it */
  finalDir?: string;
}

/**
 * Pretrains into `out` (a Hugging Face GPT-2 folder at every checkpoint). With resume, the
 * run continues from out/state.json + out/checkpoint.safetensors; size flags must match
 * the saved run, and a larger maxSteps extends it (the schedule then follows the new length).
 */
export function pretrain(docs: readonly string[], out: string, opts: PretrainOptions, ro: PretrainRunOptions): PretrainResult {
  const log = ro.log ?? (() => {});
  validatePretrainOptions(opts);
  fs.mkdirSync(out, { recursive: true });
  const stateFile = path.join(out, "state.json");
  const ckptFile = path.join(out, "checkpoint.safetensors");
  const logFile = path.join(out, "pretrain-log.jsonl");
  let o = opts;
  let startStep = 0;
  let saved: { format: number; step: number; options: PretrainOptions; docs: number; seconds: number } | null = null;
  if (ro.resume) {
    if (!fs.existsSync(stateFile) || !fs.existsSync(ckptFile))
      throw new Error(`pretrain --resume: ${out} has no state.json + checkpoint.safetensors (nothing to resume)`);
    saved = JSON.parse(fs.readFileSync(stateFile, "utf8"));
    if (!saved || saved.format !== STATE_FORMAT)
      throw new Error(`pretrain --resume: ${stateFile} has format ${saved?.format}, expected ${STATE_FORMAT}`);
    for (const k of SIZE_KEYS)
      if (saved.options[k] !== opts[k])
        throw new Error(`pretrain --resume: --${flagName(k)} ${opts[k]} differs from the saved run's ${saved.options[k]}`);
    if (saved.docs !== docs.length)
      throw new Error(`pretrain --resume: the text has ${docs.length} documents, the saved run had ${saved.docs} (same --data/--text?)`);
    o = { ...saved.options, maxSteps: opts.maxSteps };
  } else if (fs.existsSync(stateFile)) {
    throw new Error(`pretrain: ${out} already holds a pretraining run (state.json); use --resume to continue it or another --out`);
  }

  const streams = tokenStreams(docs, defaultTokenizer(), o, log);
  const T = streams.context;
  const config = modelConfig(o);
  const init = tinyGpt2Weights({ nLayer: o.layers, nEmbd: o.d, nHead: o.heads, nPositions: o.positions, seed: o.seed });
  const model = new Gpt2(config, init, ro.device, { trainable: true });
  const params = model.parameters();
  const named = model.namedParameters();
  const noDecay = new Set(params.filter((p) => p.shape.length !== 2));
  const opt = new Adam(params, { lr: o.lr, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: o.weightDecay, noDecay });
  const moments = opt.state();
  const sched = { lr: o.lr, minLr: o.minLr, warmup: o.warmup, totalSteps: o.maxSteps };
  let secondsBefore = 0;

  if (saved) {
    const st = readSafetensors(ckptFile);
    startStep = Number(st.metadata.step);
    if (!Number.isInteger(startStep) || startStep < 0) throw new Error(`pretrain --resume: ${ckptFile} has no valid step in its metadata`);
    named.forEach(([name, p], i) => {
      for (const [key, dst] of [
        [`w.${name}`, p],
        [`m.${name}`, moments[2 * i]],
        [`v.${name}`, moments[2 * i + 1]],
      ] as const) {
        const t = st.tensors.get(key);
        if (!t || t.data.length !== dst.numel) throw new Error(`pretrain --resume: ${ckptFile} lacks '${key}' [${dst.shape.join(", ")}]`);
        native().upload(dst.buffer, floatData(t, key));
      }
    });
    opt.stepCount = startStep;
    secondsBefore = saved.seconds;
    // log lines after the checkpoint belong to the lost part of the run
    if (fs.existsSync(logFile)) {
      const kept = fs
        .readFileSync(logFile, "utf8")
        .split("\n")
        .filter((l) => l && JSON.parse(l).step <= startStep);
      fs.writeFileSync(logFile, kept.map((l) => l + "\n").join(""));
    }
    log(`pretrain: resuming ${out} at step ${startStep}/${o.maxSteps}`);
  } else if (fs.existsSync(logFile)) fs.rmSync(logFile);

  const nParams = params.reduce((a, p) => a + p.numel, 0);
  log(
    `pretrain: GPT-2 ${o.layers} layers, d=${o.d}, ${o.heads} heads, ${o.positions} positions, ${(nParams / 1e6).toFixed(2)}M parameters, device ${ro.device}`,
  );
  log(
    `pretrain: ${docs.length} documents, ${streams.train.length} training + ${streams.val.length} held-out tokens; ` +
      `${o.maxSteps} steps of ${o.batch} x ${T} tokens (${((o.maxSteps * o.batch * T) / Math.max(1, streams.train.length)).toFixed(1)} passes over the text)`,
  );

  const checkpoint = (step: number, seconds: number, valLoss: number) => {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    named.forEach(([name, p], i) => {
      tensors.set(`w.${name}`, { shape: [...p.shape], data: p.toFloat32() });
      tensors.set(`m.${name}`, { shape: [...p.shape], data: moments[2 * i].toFloat32() });
      tensors.set(`v.${name}`, { shape: [...p.shape], data: moments[2 * i + 1].toFloat32() });
    });
    writeSafetensors(ckptFile, tensors, { step: String(step), format: String(STATE_FORMAT) });
    writeGpt2Folder(out, config, model.weightMap(), {
      cllm4rec_pretrain: { step, options: o, trainTokens: streams.train.length, valLoss, valPerplexity: Math.exp(valLoss) },
    });
    writeAtomic(stateFile, stringifyRunJson({ format: STATE_FORMAT, step, options: o, docs: docs.length, seconds, valLoss }));
  };

  const t0 = Date.now();
  const elapsed = () => secondsBefore + (Date.now() - t0) / 1000;
  let lastPrint = 0,
    lossSum = 0,
    lossCount = 0,
    lastLoss = NaN,
    valLoss = NaN,
    tokensRun = 0;
  if (startStep === 0) {
    valLoss = validate(model, streams, o);
    log(`  step 0 validation loss ${valLoss.toFixed(4)} perplexity ${Math.exp(valLoss).toFixed(1)} (uniform: ln 50257 = 10.825)`);
    appendLine(logFile, { step: 0, valLoss, valPerplexity: Math.exp(valLoss) });
  }
  try {
    for (let step = startStep + 1; step <= o.maxSteps; step++) {
      const ids = trainBatch(streams, o, step);
      opt.zeroGrad();
      const loss = tidy(() => {
        const l = lmLoss(model, ids, o.batch, T);
        backward(l);
        return l.item();
      });
      if (!Number.isFinite(loss)) throw new Error(`pretrain: loss is ${loss} at step ${step} (try a smaller --lr)`);
      const norm = clipGradNorm(params, o.clip);
      opt.lr = cosineLr(sched, step);
      opt.step();
      lastLoss = loss;
      lossSum += loss;
      lossCount++;
      tokensRun += o.batch * T;
      const now = Date.now();
      const isVal = step % o.valEvery === 0 || step === o.maxSteps;
      if (now - lastPrint >= (ro.progressEveryMs ?? 5000) || step === o.maxSteps) {
        lastPrint = now;
        const secs = (now - t0) / 1000;
        const rate = tokensRun / Math.max(secs, 1e-9);
        const eta = ((o.maxSteps - step) * o.batch * T) / Math.max(rate, 1e-9);
        log(
          `  step ${step}/${o.maxSteps} loss ${(lossSum / lossCount).toFixed(4)} lr ${opt.lr.toExponential(2)} |g| ${norm.toFixed(2)} ` +
            `${Math.round(rate)} tokens/s ${step < o.maxSteps ? `ETA ${fmtSecs(eta)}` : `in ${fmtSecs(elapsed())}`}`,
        );
        lossSum = 0;
        lossCount = 0;
      }
      if (isVal) {
        valLoss = validate(model, streams, o);
        log(`  step ${step} validation loss ${valLoss.toFixed(4)} perplexity ${Math.exp(valLoss).toFixed(1)}`);
        appendLine(logFile, {
          step,
          trainLoss: loss,
          valLoss,
          valPerplexity: Math.exp(valLoss),
          lr: opt.lr,
          gradNorm: norm,
          seconds: elapsed(),
        });
      }
      if (step % o.checkpointEvery === 0 || step === o.maxSteps) checkpoint(step, elapsed(), valLoss);
    }
    if (startStep >= o.maxSteps) log(`pretrain: ${out} is already at step ${startStep} (--max-steps ${o.maxSteps}); nothing to do`);
    if (!Number.isFinite(valLoss)) valLoss = validate(model, streams, o);
    const result: PretrainResult = {
      steps: Math.max(startStep, o.maxSteps),
      trainTokens: streams.train.length,
      valTokens: streams.val.length,
      finalLoss: lastLoss,
      valLoss,
      valPerplexity: Math.exp(valLoss),
      seconds: elapsed(),
    };
    log(
      `pretrain: done in ${fmtSecs(result.seconds)}: validation perplexity ${result.valPerplexity.toFixed(2)} (loss ${valLoss.toFixed(4)}); ${ro.finalDir ?? out} is a Hugging Face GPT-2 folder (--model ${ro.finalDir ?? out})`,
    );
    return result;
  } finally {
    opt.dispose();
    model.dispose();
  }
}

/** One JSON line per record; lines past the last checkpoint are dropped on --resume. */
function appendLine(file: string, value: unknown): void {
  fs.appendFileSync(file, `${JSON.stringify(value)}\n`);
}
