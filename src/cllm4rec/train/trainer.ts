// The CLLM4Rec schedule (SPEC.md §5–§6): content-only pretraining epochs, alternating
// epochs of L-steps then C-steps, then RecLLM finetuning with continued C-steps.
// Every epoch draws its randomness from (seed, stage, epoch) alone and ends with an
// atomic checkpoint, so --resume continues with exactly the results of an
// uninterrupted run.
import * as fs from "node:fs";
import { Tensor, tidy, backward } from "../../engine";
import { Adam } from "../../nn/adam";
import { Rng } from "../data/rng";
import type { EvalSplit, EvalResult } from "../metrics";
import { evaluateModel, ScoreKind } from "../predict/score";
import { Cllm4RecModel, PromptBatch, Side } from "../model/model";
import type { Gpt2Dropout } from "../../nn/gpt2";
import type { PromptMainBatch } from "../model/batch-layout";
import { TrainConfig, validateConfig } from "./config";
import { Progress, fmtSecs } from "./progress";
import { LossWatch, defaultSyncEvery } from "./loss-watch";
import { appendJsonl, ensureDir, loadTensors, runFile, saveTensors, writeJsonAtomic } from "./checkpoint";

/** Batches for one pass over each corpus, built from the given generator. */
export interface Corpora {
  collab(rng: Rng, fixedOrder: boolean): PromptMainBatch[];
  content(rng: Rng, fraction: number): PromptMainBatch[];
  rec(rng: Rng, target: "all" | "heldout", fixedOrder: boolean): { batch: PromptBatch; targets: number[][] }[];
  /**
   * one prompt per user, in the given order: RecLLM prompts, or collaborative-LM prompts for
   * LLM-PreRec; each user's items shuffled, or in their fixed order when fixedOrder (LLM-FixOrd)
   */
  evalBatch(users: number[], rng: Rng, kind: "rec" | "prerec", fixedOrder?: boolean): PromptBatch;
}

export class NonFiniteLossError extends Error {
  constructor(readonly stage: string, readonly epoch: number, readonly step: number, value: number) {
    super(`non-finite loss (${value}) in stage '${stage}', epoch ${epoch}, step ${step}; ` +
      `the last complete epoch's checkpoint is kept (lower the learning rate or check the data)`);
  }
}

type Stage = "content" | "alternating" | "finetune";
interface EpochPlan { stage: Stage; epoch: number }

export interface EpochRecord {
  global: number;
  stage: Stage;
  epoch: number;
  collabLoss?: number;
  contentLoss?: number;
  recLoss?: number;
  val?: EvalResult;
  valScore?: number;
  seconds: number;
}

interface RunState {
  version: 1;
  completed: number; // epochs of the plan finished
  history: EpochRecord[];
  best: {
    collabLoss: number; collabEpoch: number;
    contentLoss: number; contentEpoch: number;
    valScore: number; valEpoch: number; val?: EvalResult;
  };
  steps: { collab: number; content: number; rec: number };
  badEpochs: number;
  stoppedEarly: boolean;
}

export interface TrainDeps {
  model: Cllm4RecModel;
  corpora: Corpora;
  split: EvalSplit;
  config: TrainConfig;
  outDir?: string;
  log?: (s: string) => void;
  /** recorded in checkpoints: which backbone the tables belong to */
  backboneRef: string;
}

export interface TrainResult {
  history: EpochRecord[];
  best: RunState["best"];
  stoppedEarly: boolean;
  stageSeconds: Record<Stage, number>;
  stageEpochs: Record<Stage, number>;
}

export const valScore = (r: EvalResult) => (r.recall[20] ?? 0) + (r.recall[40] ?? 0) + (r.ndcg[100] ?? 0);

export function plan(c: TrainConfig): EpochPlan[] {
  const out: EpochPlan[] = [];
  const contentEpochs = c.ablation === "llm-cf" ? 0 : c.contentEpochs;
  const finetuneEpochs = c.ablation === "prerec" ? 0 : c.finetuneEpochs;
  for (let e = 1; e <= contentEpochs; e++) out.push({ stage: "content", epoch: e });
  for (let e = 1; e <= c.alternatingEpochs; e++) out.push({ stage: "alternating", epoch: e });
  for (let e = 1; e <= finetuneEpochs; e++) out.push({ stage: "finetune", epoch: e });
  return out;
}

export class Trainer {
  private readonly m: Cllm4RecModel;
  private readonly c: TrainConfig;
  private readonly log: (s: string) => void;
  private readonly collabOpt: Adam;
  private contentOpt: Adam; // replaced by a fresh one at lrFinetune when finetuning starts (contentOptFinetune "fresh")
  private recOpt: Adam | null = null;
  private state: RunState;
  private bestCollab: Float32Array[] | null = null; // [user, item] of the best L-side epoch
  private bestContent: Float32Array[] | null = null;
  private bestRec: Float32Array[] | null = null; // all four tables at the best validation epoch

  constructor(private readonly deps: TrainDeps) {
    validateConfig(deps.config);
    this.m = deps.model;
    this.c = deps.config;
    this.log = deps.log ?? ((s) => console.log(s));
    this.collabOpt = new Adam(this.optParams([this.m.collab.user, this.m.collab.item]), { lr: this.c.lrPretrain });
    this.contentOpt = new Adam(this.optParams([this.m.content.user, this.m.content.item]), { lr: this.c.lrPretrain });
    this.state = {
      version: 1, completed: 0, history: [],
      best: { collabLoss: Infinity, collabEpoch: 0, contentLoss: Infinity, contentEpoch: 0, valScore: -Infinity, valEpoch: 0 },
      steps: { collab: 0, content: 0, rec: 0 }, badEpochs: 0, stoppedEarly: false,
    };
    if (deps.outDir) ensureDir(deps.outDir);
  }

  /** Training-mode dropout of the backbone for one step of a stream (1 L, 2 C, 3 RecLLM); counters are saved, so --resume repeats the masks. */
  private drop(stream: number, step: number): Gpt2Dropout | undefined {
    return this.c.dropout > 0 ? { p: this.c.dropout, seed: this.c.seed, site: stream, step } : undefined;
  }

  private lambda(): number {
    return this.c.ablation === "llm-cf" ? 0 : this.c.lambdaC;
  }

  private shapes(): Record<string, number[]> {
    const { I, J, d } = this.m;
    const out: Record<string, number[]> = { "collab.user": [I, d], "collab.item": [J, d], "content.user": [I, d], "content.item": [J, d] };
    for (const [n, t] of this.backboneParams()) out[`backbone.${n}`] = [...t.shape];
    return out;
  }

  /** The backbone's weights when it trains (llm-scratch, llm-ftall), else none. */
  private backboneParams(): readonly [string, Tensor][] {
    return this.m.backbone.trainable ? this.m.backbone.namedParameters() : [];
  }

  /** A side's tables plus the trainable backbone: what each optimizer updates. */
  private optParams(tables: Tensor[]): Tensor[] {
    return [...tables, ...this.backboneParams().map(([, t]) => t)];
  }

  private meta(): Record<string, string> {
    return { format: "cllm4rec-tables-v1", backbone: this.deps.backboneRef, numUsers: String(this.m.I), numItems: String(this.m.J), d: String(this.m.d) };
  }

  private tensorsByName(): Record<string, Tensor> {
    const out: Record<string, Tensor> = { "collab.user": this.m.collab.user, "collab.item": this.m.collab.item, "content.user": this.m.content.user, "content.item": this.m.content.item };
    for (const [n, t] of this.backboneParams()) out[`backbone.${n}`] = t;
    return out;
  }

  private snapshot(ts: Tensor[]): Float32Array[] {
    return ts.map((t) => t.toFloat32());
  }

  private restore(ts: Tensor[], data: Float32Array[]): void {
    ts.forEach((t, i) => {
      const src = Tensor.from(data[i], t.shape, { device: t.device });
      t.copyFrom(src);
      src.dispose();
    });
  }

  private stageTotal(stage: string): number {
    return plan(this.c).filter((p) => p.stage === stage).length;
  }

  /** One pass of L-steps (collab) or C-steps (content). Returns the mean loss. */
  private documentPass(side: Side, batches: PromptMainBatch[], opt: Adam, label: string, epoch: number): number {
    const prog = new Progress(`[${label} ${epoch}/${this.stageTotal(label)}] ${side === "collab" ? "L" : "C"}-steps`, batches.length, this.log);
    const lambda = label === "content" ? 0 : this.lambda(); // the content-only stage has no partner yet
    this.withLossWatch(label, epoch, prog, (watch) => batches.forEach((b, i) => {
      tidy(() => {
        const { loss } = this.m.documentLoss(side, b, lambda, this.c.regScale, this.drop(side === "collab" ? 1 : 2, this.state.steps[side === "collab" ? "collab" : "content"]));
        watch.push(loss, i + 1);
        backward(loss);
      });
      opt.step();
      opt.zeroGrad();
      this.state.steps[side === "collab" ? "collab" : "content"]++;
    }));
    return prog.meanLoss();
  }

  private recPass(batches: { batch: PromptBatch; targets: number[][] }[], epoch: number): number {
    const opt = this.recOpt!;
    const prog = new Progress(`[finetune ${epoch}/${this.stageTotal("finetune")}] RecLLM steps`, batches.length, this.log);
    this.withLossWatch("finetune", epoch, prog, (watch) => batches.forEach(({ batch, targets }, i) => {
      tidy(() => {
        const { loss } = this.m.recLoss(batch, targets, this.lambda(), this.c.regScale, this.drop(3, this.state.steps.rec));
        watch.push(loss, i + 1);
        backward(loss);
      });
      opt.step();
      opt.zeroGrad();
      this.state.steps.rec++;
    }));
    return prog.meanLoss();
  }

  /**
   * Runs one pass with the loss read on the host every `syncEvery` steps (no sync in
   * between); each step's loss reaches `prog` at that read, and a non-finite one stops the
   * pass naming its step (the optimizer may have taken up to syncEvery-1 more steps).
   */
  private withLossWatch(stage: string, epoch: number, prog: Progress, pass: (watch: LossWatch) => void): void {
    const every = this.c.syncEvery || defaultSyncEvery(this.m.device);
    const watch = new LossWatch(every, this.m.device, (step, value) => {
      if (!Number.isFinite(value)) throw new NonFiniteLossError(stage, epoch, step, value);
      prog.step(step, value);
    });
    try {
      pass(watch);
      watch.flush();
    } finally {
      watch.dispose();
    }
  }

  /** Validation/test metrics with the current tables. */
  evaluate(which: "val" | "test", kind: ScoreKind = this.c.ablation === "prerec" ? "prerec" : "rec"): Promise<EvalResult> {
    return evaluateModel(this.m, this.deps.corpora, this.deps.split, which, this.c.seed, kind,
      { testExclude: this.c.testExclude, fixedOrder: this.c.ablation === "fixord" });
  }

  private enterFinetune(): void {
    // start from the best pretrained embeddings of each side (SPEC.md §5-§6)
    if (this.bestCollab) this.restore([this.m.collab.user, this.m.collab.item], this.bestCollab);
    if (this.bestContent) this.restore([this.m.content.user, this.m.content.item], this.bestContent);
  }

  private ensureRecOpt(): Adam {
    if (!this.recOpt) {
      this.recOpt = new Adam(this.optParams([this.m.collab.user, this.m.collab.item]), { lr: this.c.lrFinetune });
      // the authors give finetuning's C-steps their own Adam at the finetuning lr (SPEC.md §6)
      if (this.c.contentOptFinetune === "fresh") {
        this.contentOpt.dispose();
        this.contentOpt = new Adam(this.optParams([this.m.content.user, this.m.content.item]), { lr: this.c.lrFinetune });
      }
    }
    return this.recOpt;
  }

  private async runEpoch(p: EpochPlan, global: number): Promise<EpochRecord> {
    const t0 = Date.now();
    const rng = new Rng(`${this.c.seed}:${p.stage}:${p.epoch}`);
    const fixed = this.c.ablation === "fixord";
    const rec: EpochRecord = { global, stage: p.stage, epoch: p.epoch, seconds: 0 };
    const corp = this.deps.corpora;
    const best = this.state.best;
    if (p.stage === "content") {
      rec.contentLoss = this.documentPass("content", corp.content(rng.fork("content"), this.c.contentFraction), this.contentOpt, "content", p.epoch);
    } else if (p.stage === "alternating") {
      rec.collabLoss = this.documentPass("collab", corp.collab(rng.fork("collab"), fixed), this.collabOpt, "alternating", p.epoch);
      if (this.c.ablation !== "llm-cf")
        rec.contentLoss = this.documentPass("content", corp.content(rng.fork("content"), this.c.contentFraction), this.contentOpt, "alternating", p.epoch);
    } else {
      if (!this.recOpt) {
        if (p.epoch === 1) this.enterFinetune();
        this.ensureRecOpt();
      }
      rec.recLoss = this.recPass(corp.rec(rng.fork("rec"), this.c.recTarget, fixed), p.epoch);
      if (this.c.ablation !== "llm-cf")
        rec.contentLoss = this.documentPass("content", corp.content(rng.fork("content"), this.c.contentFraction), this.contentOpt, "finetune", p.epoch);
      const last = p.epoch === this.c.finetuneEpochs;
      if (p.epoch % this.c.evalEvery === 0 || last) {
        rec.val = await this.evaluate("val", "rec");
        rec.valScore = valScore(rec.val);
      }
    }
    // best-epoch bookkeeping
    if (p.stage !== "finetune") {
      if (rec.collabLoss !== undefined && rec.collabLoss < best.collabLoss) {
        best.collabLoss = rec.collabLoss;
        best.collabEpoch = global;
        this.bestCollab = this.snapshot([this.m.collab.user, this.m.collab.item]);
      }
      if (rec.contentLoss !== undefined && rec.contentLoss < best.contentLoss) {
        best.contentLoss = rec.contentLoss;
        best.contentEpoch = global;
        this.bestContent = this.snapshot([this.m.content.user, this.m.content.item]);
      }
    } else if (rec.valScore !== undefined) {
      if (rec.valScore > best.valScore) {
        best.valScore = rec.valScore;
        best.valEpoch = global;
        best.val = rec.val;
        this.bestRec = this.snapshot(this.m.parameters());
        this.state.badEpochs = 0;
      } else this.state.badEpochs++;
    }
    rec.seconds = (Date.now() - t0) / 1000;
    return rec;
  }

  private describe(r: EpochRecord): string {
    const parts = [`[${r.stage} ${r.epoch}]`];
    if (r.collabLoss !== undefined) parts.push(`L-loss ${r.collabLoss.toFixed(4)}`);
    if (r.contentLoss !== undefined) parts.push(`C-loss ${r.contentLoss.toFixed(4)}`);
    if (r.recLoss !== undefined) parts.push(`rec-loss ${r.recLoss.toFixed(4)}`);
    if (r.val) parts.push(`val R@20 ${r.val.recall[20].toFixed(4)} R@40 ${r.val.recall[40].toFixed(4)} N@100 ${r.val.ndcg[100].toFixed(4)}`);
    parts.push(fmtSecs(r.seconds));
    return parts.join("  ");
  }

  // ---- checkpoints ---------------------------------------------------------------------
  private save(): void {
    const dir = this.deps.outDir;
    if (!dir) return;
    const shapes = this.shapes();
    saveTensors(runFile(dir, "tables.safetensors"), this.tensorsByName(), shapes, this.meta());
    const optT: Record<string, Tensor> = {};
    const optShapes: Record<string, number[]> = {};
    const opts: [string, Adam | null][] = [["collab", this.collabOpt], ["content", this.contentOpt], ["rec", this.recOpt]];
    for (const [name, o] of opts) {
      if (!o) continue;
      o.state().forEach((t, i) => {
        optT[`${name}.${i}`] = t;
        optShapes[`${name}.${i}`] = [...t.shape];
      });
    }
    saveTensors(runFile(dir, "optimizer.safetensors"), optT, optShapes, { format: "cllm4rec-adam-v1" });
    const { I, J, d } = this.m;
    if (this.bestCollab && this.state.best.collabEpoch === this.state.completed)
      saveTensors(runFile(dir, "best-collab.safetensors"), { user: this.bestCollab[0], item: this.bestCollab[1] }, { user: [I, d], item: [J, d] }, this.meta());
    if (this.bestContent && this.state.best.contentEpoch === this.state.completed)
      saveTensors(runFile(dir, "best-content.safetensors"), { user: this.bestContent[0], item: this.bestContent[1] }, { user: [I, d], item: [J, d] }, this.meta());
    if (this.bestRec && this.state.best.valEpoch === this.state.completed) {
      const names = Object.keys(shapes);
      saveTensors(runFile(dir, "best.safetensors"), Object.fromEntries(names.map((n, i) => [n, this.bestRec![i]])), shapes, this.meta());
    }
    const optSteps = { collab: this.collabOpt.stepCount, content: this.contentOpt.stepCount, rec: this.recOpt?.stepCount ?? -1 };
    writeJsonAtomic(runFile(dir, "state.json"), { ...this.state, optSteps });
  }

  /** Loads the last complete epoch from outDir; returns false when there is nothing to resume. */
  resume(): boolean {
    const dir = this.deps.outDir;
    if (!dir) throw new Error("--resume needs --out (the run folder to continue)");
    const stateFile = runFile(dir, "state.json");
    if (!fs.existsSync(stateFile)) return false;
    const saved = JSON.parse(fs.readFileSync(stateFile, "utf8")) as RunState & { optSteps: { collab: number; content: number; rec: number } };
    if (saved.version !== 1) throw new Error(`${stateFile}: unknown state version ${saved.version}`);
    const shapes = this.shapes();
    const tables = loadTensors(runFile(dir, "tables.safetensors"), shapes);
    if (tables.metadata.backbone && tables.metadata.backbone !== this.deps.backboneRef)
      this.log(`warning: checkpoint was trained with backbone ${tables.metadata.backbone}, resuming with ${this.deps.backboneRef}`);
    const byName = this.tensorsByName();
    for (const n of Object.keys(shapes)) this.restore([byName[n]], [tables.data[n]]);
    if (saved.optSteps.rec >= 0) this.ensureRecOpt();
    const opts: [string, Adam | null, number][] = [["collab", this.collabOpt, saved.optSteps.collab], ["content", this.contentOpt, saved.optSteps.content], ["rec", this.recOpt, saved.optSteps.rec]];
    const optShapes: Record<string, number[]> = {};
    for (const [name, o] of opts) if (o) o.state().forEach((t, i) => (optShapes[`${name}.${i}`] = [...t.shape]));
    const optData = loadTensors(runFile(dir, "optimizer.safetensors"), optShapes).data;
    for (const [name, o, steps] of opts) {
      if (!o) continue;
      const st = o.state();
      this.restore(st, st.map((_, i) => optData[`${name}.${i}`]));
      o.stepCount = steps;
    }
    const { I, J, d } = this.m;
    const pair = (f: string) => {
      const r = loadTensors(runFile(dir, f), { user: [I, d], item: [J, d] }).data;
      return [r.user, r.item];
    };
    if (saved.best.collabEpoch > 0) this.bestCollab = pair("best-collab.safetensors");
    if (saved.best.contentEpoch > 0) this.bestContent = pair("best-content.safetensors");
    if (saved.best.valEpoch > 0) {
      const r = loadTensors(runFile(dir, "best.safetensors"), shapes).data;
      this.bestRec = Object.keys(shapes).map((n) => r[n]);
    }
    const { optSteps: _ignored, ...rest } = saved;
    this.state = rest;
    this.log(`resuming from ${dir}: ${saved.completed} epoch(s) complete`);
    return true;
  }

  /**
   * Runs (or continues) the schedule; leaves the selected tables loaded in the model.
   * untilEpoch stops after that many epochs of the plan (as if interrupted there).
   */
  async run(opts: { untilEpoch?: number } = {}): Promise<TrainResult> {
    const all = plan(this.c);
    const epochs = all.slice(0, Math.min(all.length, opts.untilEpoch ?? all.length));
    const stageSeconds: Record<Stage, number> = { content: 0, alternating: 0, finetune: 0 };
    const stageEpochs: Record<Stage, number> = { content: 0, alternating: 0, finetune: 0 };
    for (const r of this.state.history) {
      stageSeconds[r.stage] += r.seconds;
      stageEpochs[r.stage]++;
    }
    const counts = epochs.reduce((acc, e) => ((acc[e.stage] = (acc[e.stage] ?? 0) + 1), acc), {} as Record<string, number>);
    this.log(`schedule: ${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ") || "nothing"} epoch(s)` +
      (this.c.ablation !== "none" ? ` (ablation ${this.c.ablation})` : ""));
    for (let g = this.state.completed; g < epochs.length && !this.state.stoppedEarly; g++) {
      const p = epochs[g];
      const rec = await this.runEpoch(p, g + 1);
      this.state.history.push(rec);
      this.state.completed = g + 1;
      stageSeconds[p.stage] += rec.seconds;
      stageEpochs[p.stage]++;
      if (p.stage === "finetune" && this.c.patience > 0 && this.state.badEpochs >= this.c.patience) {
        this.state.stoppedEarly = true;
        this.log(`early stop: validation score did not improve for ${this.c.patience} evaluation(s)`);
      }
      this.log(this.describe(rec));
      if (this.deps.outDir) appendJsonl(runFile(this.deps.outDir, "metrics.jsonl"), rec);
      this.save();
    }
    // leave the selected embeddings in place
    if (epochs.length === all.length) {
      if (this.bestRec) this.restore(this.m.parameters(), this.bestRec);
      else if (!all.some((e) => e.stage === "finetune")) this.enterFinetune();
    }
    return { history: this.state.history, best: this.state.best, stoppedEarly: this.state.stoppedEarly, stageSeconds, stageEpochs };
  }

  dispose(): void {
    this.collabOpt.dispose();
    this.contentOpt.dispose();
    this.recOpt?.dispose();
  }
}
