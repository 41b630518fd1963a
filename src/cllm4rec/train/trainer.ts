// The CLLM4Rec schedule (SPEC.md §5–§6): content-only pretraining epochs, alternating
// epochs of L-steps then C-steps, then RecLLM finetuning with continued C-steps.
// Every epoch draws its randomness from (seed, stage, epoch) alone and ends with one
// atomic checkpoint commit (../run/checkpoint.ts), so --resume continues with exactly
// the results of an uninterrupted run.
import { Tensor, tidy, backward } from "../../engine";
import { Adam } from "../../nn/adam";
import { Rng } from "../../shared/rng";
import type { EvalSplit, EvalResult } from "../../shared/metrics";
import { evaluateRun, type ScoreKind } from "../predict/score";
import type { Cllm4RecModel, PromptBatch, Side } from "../model/model";
import type { Gpt2Dropout } from "../../nn/gpt2";
import type { PromptMainBatch } from "../model/batch_layout";
import { CheckpointStore, type NamedArrays, type PartName, type StoredFile, writeMetrics } from "../run/checkpoint";
import { type TrainConfig, validateConfig } from "./config";
import type { Corpora } from "./corpora";
import { Progress, fmtSecs } from "./progress";
import { LossWatch, defaultSyncEvery } from "./loss_watch";
import { resolvePlan, type TrainingPlan } from "./plan";
import { type EpochPlan, type EpochRecord, type RunState, type Stage, freshState, parseState } from "./state";

export type { EpochRecord } from "./state";

export class NonFiniteLossError extends Error {
  constructor(
    readonly stage: string,
    readonly epoch: number,
    readonly step: number,
    value: number,
    hasCheckpoint = true,
  ) {
    super(
      `non-finite loss (${value}) in stage '${stage}', epoch ${epoch}, step ${step}; ` +
        (hasCheckpoint
          ? "the last complete epoch's checkpoint is kept: lower the learning rate and continue with --resume --lr-pretrain/--lr-finetune X, or check the data"
          : "no epoch was complete, so nothing was kept: lower the learning rate (--lr-pretrain/--lr-finetune) or check the data"),
    );
  }
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

/** The epochs of a run, in order (see resolvePlan). */
export const plan = (c: TrainConfig): EpochPlan[] => resolvePlan(c).epochs;

/** Lets the event loop turn: N-API finalizers of freed handles only run then (memory stays flat). */
const turnEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Trainer {
  private readonly m: Cllm4RecModel;
  private readonly c: TrainConfig;
  private readonly p: TrainingPlan;
  private readonly log: (s: string) => void;
  private readonly collabOpt: Adam;
  private contentOpt: Adam; // replaced by a fresh one at lrFinetune when finetuning starts (contentOptFinetune "fresh")
  private recOpt: Adam | null = null;
  private state: RunState;
  private readonly store: CheckpointStore | null;
  /** the files of the last commit; parts not rewritten in an epoch carry over */
  private files: Partial<Record<PartName, StoredFile>> = {};
  private bestCollab: Float32Array[] | null = null; // [user, item, trainable backbone...] of the best L-side epoch
  private bestContent: Float32Array[] | null = null;
  private bestRec: Float32Array[] | null = null; // all four tables at the best validation epoch

  constructor(private readonly deps: TrainDeps) {
    validateConfig(deps.config);
    this.m = deps.model;
    this.c = deps.config;
    this.p = resolvePlan(deps.config);
    this.log = deps.log ?? ((s) => console.log(s));
    this.collabOpt = new Adam(this.optParams([this.m.collab.user, this.m.collab.item]), { lr: this.c.lrPretrain });
    this.contentOpt = new Adam(this.optParams([this.m.content.user, this.m.content.item]), { lr: this.c.lrPretrain });
    this.state = freshState();
    this.store = deps.outDir ? new CheckpointStore(deps.outDir) : null;
  }

  /** Training-mode dropout of the backbone for one step of a stream (1 L, 2 C, 3 RecLLM); counters are saved, so --resume repeats the masks. */
  private drop(stream: number, step: number): Gpt2Dropout | undefined {
    return this.c.dropout > 0 ? { p: this.c.dropout, seed: this.c.seed, site: stream, step } : undefined;
  }

  private lambda(): number {
    return this.p.lambda;
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

  /** The collaborative tables and the trainable backbone (none when frozen): the best L-side snapshot. */
  private collabSide(): Tensor[] {
    return this.optParams([this.m.collab.user, this.m.collab.item]);
  }

  /** A best-side part's names and shapes: user, item, then (collab side) backbone.<name> when it trains. */
  private bestSideShapes(side: "collab" | "content"): Record<string, number[]> {
    const { I, J, d } = this.m;
    const out: Record<string, number[]> = { user: [I, d], item: [J, d] };
    if (side === "collab") for (const [n, t] of this.backboneParams()) out[`backbone.${n}`] = [...t.shape];
    return out;
  }

  /** A side's tables plus the trainable backbone: what each optimizer updates. */
  private optParams(tables: Tensor[]): Tensor[] {
    return [...tables, ...this.backboneParams().map(([, t]) => t)];
  }

  private meta(): Record<string, string> {
    return {
      format: "cllm4rec-tables-v1",
      backbone: this.deps.backboneRef,
      numUsers: String(this.m.I),
      numItems: String(this.m.J),
      d: String(this.m.d),
    };
  }

  private tensorsByName(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {
      "collab.user": this.m.collab.user,
      "collab.item": this.m.collab.item,
      "content.user": this.m.content.user,
      "content.item": this.m.content.item,
    };
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
    return this.p.epochs.filter((p) => p.stage === stage).length;
  }

  /** One pass of L-steps (collab) or C-steps (content) with regularisation strength lambda. Returns the mean loss. */
  private async documentPass(side: Side, batches: PromptMainBatch[], opt: Adam, p: EpochPlan, lambda: number): Promise<number> {
    const prog = new Progress(
      `[${p.stage} ${p.epoch}/${this.stageTotal(p.stage)}] ${side === "collab" ? "L" : "C"}-steps`,
      batches.length,
      this.log,
    );
    const steps = side === "collab" ? "collab" : "content";
    await this.withLossWatch(p, prog, batches.length, (watch, i) => {
      tidy(() => {
        const { loss } = this.m.documentLoss(
          side,
          batches[i],
          lambda,
          this.c.regScale,
          this.drop(side === "collab" ? 1 : 2, this.state.steps[steps]),
        );
        watch.push(loss, i + 1);
        backward(loss);
      });
      opt.step(watch.halt); // a no-op from the first non-finite loss on (flagged on the device)
      opt.zeroGrad();
      this.state.steps[steps]++;
    });
    return prog.meanLoss();
  }

  private async recPass(batches: { batch: PromptBatch; targets: number[][] }[], p: EpochPlan): Promise<number> {
    const opt = this.recOpt!;
    const prog = new Progress(`[finetune ${p.epoch}/${this.stageTotal("finetune")}] RecLLM steps`, batches.length, this.log);
    await this.withLossWatch(p, prog, batches.length, (watch, i) => {
      const { batch, targets } = batches[i];
      tidy(() => {
        const { loss } = this.m.recLoss(batch, targets, this.lambda(), this.c.regScale, this.drop(3, this.state.steps.rec));
        watch.push(loss, i + 1);
        backward(loss);
      });
      opt.step(watch.halt); // a no-op from the first non-finite loss on (flagged on the device)
      opt.zeroGrad();
      this.state.steps.rec++;
    });
    return prog.meanLoss();
  }

  /**
   * Runs `count` steps with the loss read on the host every `syncEvery` steps (no sync in
   * between); each step's loss reaches `prog` at that read, and a non-finite one stops the
   * pass naming its step. The steps pass `watch.halt` to Adam, so from that step on no update
   * is applied (flagged on the device): the tables stay as they were after the step before.
   * The event loop turns after every step, so freed native handles are finalized promptly.
   */
  private async withLossWatch(p: EpochPlan, prog: Progress, count: number, step: (watch: LossWatch, i: number) => void): Promise<void> {
    const every = this.c.syncEvery || defaultSyncEvery(this.m.device);
    const watch = new LossWatch(every, this.m.device, (n, value, halted) => {
      if (halted || !Number.isFinite(value)) throw new NonFiniteLossError(p.stage, p.epoch, n, value, this.hasCheckpoint());
      prog.step(n, value);
    });
    try {
      for (let i = 0; i < count; i++) {
        step(watch, i);
        await turnEventLoop();
      }
      watch.flush();
    } finally {
      watch.dispose();
    }
  }

  /** Validation/test metrics with the current tables. */
  evaluate(which: "val" | "test", kind: ScoreKind = this.p.scoring): Promise<EvalResult> {
    return evaluateRun(this.m, this.deps.corpora, this.deps.split, which, this.c, kind);
  }

  private enterFinetune(): void {
    // start from the best pretrained embeddings of each side (SPEC.md §5-§6)
    // a trained backbone (llm-scratch, llm-ftall) comes back from the same epoch as the collaborative
    // tables: finetuning's RecLLM runs them through it, and they were trained together
    if (this.bestCollab) this.restore(this.collabSide(), this.bestCollab);
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
    const fixed = this.p.fixedItemOrder;
    const rec: EpochRecord = { global, stage: p.stage, epoch: p.epoch, seconds: 0 };
    const corp = this.deps.corpora;
    const best = this.state.best;
    if (p.stage === "content") {
      // the content-only stage has no collaborative partner to regularise toward yet
      rec.contentLoss = await this.documentPass(
        "content",
        corp.content(rng.fork("content"), this.c.contentFraction),
        this.contentOpt,
        p,
        0,
      );
    } else if (p.stage === "alternating") {
      rec.collabLoss = await this.documentPass("collab", corp.collab(rng.fork("collab"), fixed), this.collabOpt, p, this.lambda());
      if (this.p.contentSide)
        rec.contentLoss = await this.documentPass(
          "content",
          corp.content(rng.fork("content"), this.c.contentFraction),
          this.contentOpt,
          p,
          this.lambda(),
        );
    } else {
      if (!this.recOpt) {
        if (p.epoch === 1) this.enterFinetune();
        this.ensureRecOpt();
      }
      rec.recLoss = await this.recPass(corp.rec(rng.fork("rec"), this.c.recTarget, fixed), p);
      if (this.p.contentSide)
        rec.contentLoss = await this.documentPass(
          "content",
          corp.content(rng.fork("content"), this.c.contentFraction),
          this.contentOpt,
          p,
          this.lambda(),
        );
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
        this.bestCollab = this.snapshot(this.collabSide());
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
    if (r.val)
      parts.push(`val R@20 ${r.val.recall[20].toFixed(4)} R@40 ${r.val.recall[40].toFixed(4)} N@100 ${r.val.ndcg[100].toFixed(4)}`);
    parts.push(fmtSecs(r.seconds));
    return parts.join("  ");
  }

  // ---- checkpoints (the files themselves: ../run/checkpoint.ts) -----------------------
  /** A part of arrays in the order of `shapes`' names. */
  private part(shapes: Record<string, number[]>, data: Float32Array[]): NamedArrays {
    return Object.fromEntries(Object.keys(shapes).map((n, i) => [n, { shape: shapes[n], data: data[i] }]));
  }

  /** Writes this epoch's parts into fresh files, then commits them with the state in one rename. */
  private save(): void {
    if (!this.store) return;
    const epoch = this.state.completed;
    const shapes = this.shapes();
    const files = this.files;
    files.tables = this.store.writePart("tables", epoch, this.part(shapes, this.snapshot(this.m.parameters())), this.meta());
    const optParts: NamedArrays = {};
    const opts: [string, Adam | null][] = [
      ["collab", this.collabOpt],
      ["content", this.contentOpt],
      ["rec", this.recOpt],
    ];
    for (const [name, o] of opts)
      o?.state().forEach((t, i) => {
        optParts[`${name}.${i}`] = { shape: [...t.shape], data: t.toFloat32() };
      });
    files.optimizer = this.store.writePart("optimizer", epoch, optParts, { format: "cllm4rec-adam-v1" });
    if (this.bestCollab && this.state.best.collabEpoch === epoch)
      files["best-collab"] = this.store.writePart(
        "best-collab",
        epoch,
        this.part(this.bestSideShapes("collab"), this.bestCollab),
        this.meta(),
      );
    if (this.bestContent && this.state.best.contentEpoch === epoch)
      files["best-content"] = this.store.writePart(
        "best-content",
        epoch,
        this.part(this.bestSideShapes("content"), this.bestContent),
        this.meta(),
      );
    if (this.bestRec && this.state.best.valEpoch === epoch)
      files.best = this.store.writePart("best", epoch, this.part(shapes, this.bestRec), this.meta());
    this.state.optSteps = { collab: this.collabOpt.stepCount, content: this.contentOpt.stepCount, rec: this.recOpt?.stepCount ?? -1 };
    this.store.commit({ epoch, state: this.state, files });
    writeMetrics(this.store.runDir, this.state.history);
  }

  /** Loads the last committed epoch from outDir; returns false when there is nothing to resume. */
  resume(): boolean {
    const dir = this.deps.outDir;
    if (!dir || !this.store) throw new Error("--resume needs --out (the run folder to continue)");
    const all = this.p.epochs;
    const saved = this.store.read((f) => parseState(f, all));
    if (!saved) return false;
    const st = saved.state;
    const where = this.store.stateFile;
    const need = (part: PartName, why: string) => {
      const f = saved.files[part];
      if (!f) throw new Error(`${where}: field 'files.${part}' is missing although ${why}`);
      return f;
    };
    if (saved.epoch !== st.completed) throw new Error(`${where}: field 'epoch' is ${saved.epoch} but 'state.completed' is ${st.completed}`);
    const shapes = this.shapes();
    const tables = this.store.loadPart(need("tables", "every commit has tables"), shapes);
    if (tables.metadata.backbone && tables.metadata.backbone !== this.deps.backboneRef)
      this.log(`warning: checkpoint was trained with backbone ${tables.metadata.backbone}, resuming with ${this.deps.backboneRef}`);
    const byName = this.tensorsByName();
    for (const n of Object.keys(shapes)) this.restore([byName[n]], [tables.data[n]]);
    if (st.optSteps.rec >= 0) this.ensureRecOpt();
    const opts: [string, Adam | null, number][] = [
      ["collab", this.collabOpt, st.optSteps.collab],
      ["content", this.contentOpt, st.optSteps.content],
      ["rec", this.recOpt, st.optSteps.rec],
    ];
    const optShapes: Record<string, number[]> = {};
    for (const [name, o] of opts)
      if (o)
        o.state().forEach((t, i) => {
          optShapes[`${name}.${i}`] = [...t.shape];
        });
    const optData = this.store.loadPart(need("optimizer", "every commit has optimizer moments"), optShapes).data;
    for (const [name, o, steps] of opts) {
      if (!o) continue;
      const ts = o.state();
      this.restore(
        ts,
        ts.map((_, i) => optData[`${name}.${i}`]),
      );
      o.stepCount = steps;
    }
    // a best part's arrays in the order of its names
    const arrays = (part: PartName, why: string, want: Record<string, number[]>) => {
      const r = this.store!.loadPart(need(part, why), want).data;
      return Object.keys(want).map((n) => r[n]);
    };
    if (st.best.collabEpoch > 0)
      this.bestCollab = arrays("best-collab", `best.collabEpoch is ${st.best.collabEpoch}`, this.bestSideShapes("collab"));
    if (st.best.contentEpoch > 0)
      this.bestContent = arrays("best-content", `best.contentEpoch is ${st.best.contentEpoch}`, this.bestSideShapes("content"));
    if (st.best.valEpoch > 0) this.bestRec = arrays("best", `best.valEpoch is ${st.best.valEpoch}`, shapes);
    this.state = st;
    this.files = { ...saved.files };
    // leftovers of the interrupted epoch: files no commit names, and metrics lines past the commit
    this.store.removeLeftovers(saved.files);
    writeMetrics(dir, st.history);
    this.log(`resuming from ${dir}: ${st.completed} epoch(s) complete`);
    return true;
  }

  /** Whether an epoch has been committed to disk (what a failed run leaves behind). */
  hasCheckpoint(): boolean {
    return this.state.completed > 0 && !!this.store;
  }

  /**
   * Runs (or continues) the schedule; leaves the selected tables loaded in the model.
   * untilEpoch stops after that many epochs of the plan (as if interrupted there).
   */
  async run(opts: { untilEpoch?: number } = {}): Promise<TrainResult> {
    const all = this.p.epochs;
    const epochs = all.slice(0, Math.min(all.length, opts.untilEpoch ?? all.length));
    const stageSeconds: Record<Stage, number> = { content: 0, alternating: 0, finetune: 0 };
    const stageEpochs: Record<Stage, number> = { content: 0, alternating: 0, finetune: 0 };
    for (const r of this.state.history) {
      stageSeconds[r.stage] += r.seconds;
      stageEpochs[r.stage]++;
    }
    const counts: Record<string, number> = {};
    for (const e of epochs) counts[e.stage] = (counts[e.stage] ?? 0) + 1;
    this.log(
      `schedule: ${
        Object.entries(counts)
          .map(([s, n]) => `${n} ${s}`)
          .join(", ") || "nothing"
      } epoch(s)` + (this.p.ablation !== "none" ? ` (ablation ${this.p.ablation})` : ""),
    );
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
      this.save();
      await turnEventLoop();
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
