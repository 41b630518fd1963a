// Shared pieces of the neural baselines (Multi-VAE, BPR) trained on our engine:
// seeded parameter init, weight snapshots, and epoch-wise selection on validation.
import { Tensor, keep, type Device } from "../engine";
import type { Rng } from "../shared/rng";
import { evaluateRanking } from "../shared/metrics";
import type { Split } from "./types";

/** A trainable leaf filled by `draw()` (host values, uploaded once). */
export function param(shape: number[], device: Device, draw: () => number, name: string): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = draw();
  const t = keep(Tensor.from(data, shape, { device, requiresGrad: true }));
  t.name = name;
  return t;
}

/** Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform(rng: Rng, fanIn: number, fanOut: number): () => number {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  return () => (2 * rng.float() - 1) * a;
}

/** Copies of parameter values, restorable later (the best epoch on validation). */
export class Snapshot {
  private readonly copies: Tensor[];
  constructor(private readonly params: readonly Tensor[]) {
    this.copies = params.map((p) => keep(p.clone()));
  }
  save(): void {
    this.params.forEach((p, i) => {
      this.copies[i].copyFrom(p);
    });
  }
  restore(): void {
    this.params.forEach((p, i) => {
      p.copyFrom(this.copies[i]);
    });
  }
  dispose(): void {
    for (const c of this.copies) c.dispose();
  }
}

export interface EpochLoopOptions {
  epochs: number;
  /** Evaluate validation Recall@20 every this many epochs and keep the best weights; 0 = never. */
  evalEvery: number;
  params: readonly Tensor[];
  /** One epoch of updates; returns its mean loss (host number). */
  runEpoch: (epoch: number) => number;
  /** Validation score of the current weights (Recall@20 on split.val). */
  validate: (() => Promise<number>) | null;
  log: (line: string) => void;
  name: string;
}

/** Runs the epochs; with validation, restores the best epoch's weights at the end. */
export async function epochLoop(o: EpochLoopOptions): Promise<{ bestEpoch: number; bestVal: number | null }> {
  const select = o.validate !== null && o.evalEvery > 0;
  const snap = select ? new Snapshot(o.params) : null;
  let bestEpoch = o.epochs,
    bestVal = -Infinity;
  try {
    for (let e = 1; e <= o.epochs; e++) {
      const loss = o.runEpoch(e);
      if (!Number.isFinite(loss)) throw new Error(`${o.name}: loss became ${loss} at epoch ${e}`);
      if (select && (e % o.evalEvery === 0 || e === o.epochs)) {
        const r = await o.validate!();
        if (r > bestVal) {
          bestVal = r;
          bestEpoch = e;
          snap!.save();
        }
        o.log(`${o.name} epoch ${e}: loss ${loss.toFixed(4)}, val Recall@20 ${r.toFixed(4)}`);
      } else {
        o.log(`${o.name} epoch ${e}: loss ${loss.toFixed(4)}`);
      }
    }
    if (snap) snap.restore();
  } finally {
    snap?.dispose();
  }
  return { bestEpoch, bestVal: select ? bestVal : null };
}

/** Recall@20 on split.val of a score function (train items excluded by the evaluator). */
export async function valRecall20(score: (users: number[]) => Float32Array, split: Split): Promise<number> {
  const r = await evaluateRanking(score, split, "val", { recallKs: [20], ndcgKs: [100], batchSize: 512 });
  return r.recall[20];
}

/** Whether selection on validation is possible: fitting on train only, with val items. */
export function canSelectOnVal(split: Split, includeVal: boolean | undefined): boolean {
  return !includeVal && split.val.some((l) => l.length > 0);
}
