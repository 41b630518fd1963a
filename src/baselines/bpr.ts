// BPR-MF (Rendle, Freudenthaler, Gantner, Schmidt-Thieme, UAI 2009), trained on our engine.
//   x_uij = p_u . (q_i - q_j) + b_i - b_j for a training pair (u, i) and an item j drawn
//   uniformly from the items u has not interacted with;
//   loss = -mean_batch log sigmoid(x_uij) + lambda * mean_batch(|p_u|^2 + |q_i|^2 + |q_j|^2 + b_i^2 + b_j^2),
// i.e. Rendle's per-sample L2 on the rows a sample touches (not on the whole tables).
// One epoch visits every training pair once, in a seeded random order, with fresh negatives.
// Scores: P_u Q^T + b.
import {
  Tensor,
  tidy,
  noGrad,
  backward,
  add,
  scale,
  reshape,
  matmul,
  selectRows,
  squaredDistance,
  combineLosses,
  mul,
  rowSum,
  logSigmoid,
  mean,
  type Device,
} from "../engine";
import { Adam } from "../nn/adam";
import { Rng } from "../shared/rng";
import { checkSplit, checkUsers, fitLists, type FitOptions, type Recommender, type Split } from "./types";
import { canSelectOnVal, epochLoop, param, valRecall20 } from "./neural";

export interface BprOptions {
  /** Embedding size; default 64. */
  dim?: number;
  /** Learn a bias per item; default true. */
  itemBias?: boolean;
  /** L2 strength on the rows each sample touches; default 1e-4. */
  lambda?: number;
  /** Adam learning rate; default 1e-3. */
  lr?: number;
  /** Std of the N(0, std) embedding init; default 0.1 (biases start at 0). */
  initStd?: number;
  /** Triples per update; default 1024. */
  batchSize?: number;
  /** Passes over the training pairs; default 100. */
  epochs?: number;
  /** Validation Recall@20 every this many epochs, keeping the best weights; default 5; 0 = last epoch. */
  evalEvery?: number;
  /** Seed of init, pair order and negatives; default 1. */
  seed?: number;
  /** Default 'cpu'. */
  device?: Device;
  log?: (line: string) => void;
}

export class BprRecommender implements Recommender {
  readonly name = "BPR-MF";
  readonly opts: Required<Omit<BprOptions, "log">>;
  private readonly log: (line: string) => void;
  private p: Tensor | null = null; // [U, d]
  private q: Tensor | null = null; // [J, d]
  private b: Tensor | null = null; // [J, 1] or null
  private numUsers = 0;
  private numItems = 0;
  bestEpoch = 0;

  constructor(opts: BprOptions = {}) {
    const o = {
      dim: opts.dim ?? 64,
      itemBias: opts.itemBias ?? true,
      lambda: opts.lambda ?? 1e-4,
      lr: opts.lr ?? 1e-3,
      initStd: opts.initStd ?? 0.1,
      batchSize: opts.batchSize ?? 1024,
      epochs: opts.epochs ?? 100,
      evalEvery: opts.evalEvery ?? 5,
      seed: opts.seed ?? 1,
      device: opts.device ?? "cpu",
    };
    for (const k of ["dim", "batchSize", "epochs"] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`BprRecommender: ${k} must be a positive integer, got ${o[k]}`);
    }
    if (!Number.isInteger(o.evalEvery) || o.evalEvery < 0)
      throw new Error(`BprRecommender: evalEvery must be an integer >= 0, got ${o.evalEvery}`);
    if (!(o.lambda >= 0) || !(o.lr > 0) || !(o.initStd > 0)) {
      throw new Error(`BprRecommender: need lambda >= 0, lr > 0, initStd > 0; got ${o.lambda}, ${o.lr}, ${o.initStd}`);
    }
    this.opts = o;
    this.log = opts.log ?? (() => {});
  }

  async fit(split: Split, fitOpts: FitOptions = {}): Promise<void> {
    checkSplit("BprRecommender.fit", split);
    const { dim: d, device, lambda } = this.opts;
    const U = split.numUsers,
      J = split.numItems;
    this.dispose();
    this.numUsers = U;
    this.numItems = J;
    const lists = fitLists(split, fitOpts).map((items) => Array.from(new Set(items)));
    const known = lists.map((l) => new Set(l));
    // Training pairs of users that have at least one negative to sample.
    const pairs: [number, number][] = [];
    lists.forEach((l, u) => {
      if (l.length < J) for (const i of l) pairs.push([u, i]);
    });
    const rng = new Rng(this.opts.seed);
    const init = rng.fork("init");
    const std = this.opts.initStd;
    this.p = param([U, d], device, () => init.normal(0, std), "bpr.p");
    this.q = param([J, d], device, () => init.normal(0, std), "bpr.q");
    this.b = this.opts.itemBias ? param([J, 1], device, () => 0, "bpr.b") : null;
    const params = [this.p, this.q, ...(this.b ? [this.b] : [])];
    const opt = new Adam(params, { lr: this.opts.lr });
    const order = rng.fork("order"),
      negatives = rng.fork("negatives");
    const B = this.opts.batchSize;

    const step = (batch: [number, number][]): number => {
      const n = batch.length;
      const u = new Int32Array(n),
        i = new Int32Array(n),
        j = new Int32Array(n);
      batch.forEach(([bu, bi], k) => {
        let neg = negatives.int(J);
        while (known[bu].has(neg)) neg = negatives.int(J);
        u[k] = bu;
        i[k] = bi;
        j[k] = neg;
      });
      const v = tidy(() => {
        const ut = Tensor.from(u, [n], { device }),
          it = Tensor.from(i, [n], { device }),
          jt = Tensor.from(j, [n], { device });
        const pu = selectRows(this.p!, ut, u),
          qi = selectRows(this.q!, it, i),
          qj = selectRows(this.q!, jt, j); // [n, d]
        let x = rowSum(mul(pu, add(qi, scale(qj, -1)))); // [n]
        const zero = Tensor.zeros([n, d], { device });
        const terms: [Tensor, number][] = [
          [squaredDistance(pu, zero), lambda / n],
          [squaredDistance(qi, zero), lambda / n],
          [squaredDistance(qj, zero), lambda / n],
        ];
        if (this.b) {
          const bi = selectRows(this.b, it, i),
            bj = selectRows(this.b, jt, j); // [n, 1]
          x = add(x, reshape(add(bi, scale(bj, -1)), [n]));
          const zb = Tensor.zeros([n, 1], { device });
          terms.push([squaredDistance(bi, zb), lambda / n], [squaredDistance(bj, zb), lambda / n]);
        }
        const loss = combineLosses([[mean(logSigmoid(x)), -1], ...terms]);
        backward(loss);
        return loss.item();
      });
      opt.step();
      opt.zeroGrad();
      return v;
    };

    const res = await epochLoop({
      epochs: this.opts.epochs,
      evalEvery: canSelectOnVal(split, fitOpts.includeVal) ? this.opts.evalEvery : 0,
      params,
      runEpoch: () => {
        const perm = order.shuffle(pairs.slice());
        let sum = 0,
          steps = 0;
        for (let s = 0; s < perm.length; s += B, steps++) sum += step(perm.slice(s, s + B));
        return steps > 0 ? sum / steps : 0;
      },
      validate: () => valRecall20((us) => this.score(us), split),
      log: this.log,
      name: this.name,
    });
    opt.dispose();
    this.bestEpoch = res.bestEpoch;
  }

  /** P_u Q^T + b for `users`, [users, J]; known items are not masked (the evaluator excludes them). */
  score(users: number[]): Float32Array {
    if (!this.p || !this.q) throw new Error("BprRecommender.score: call fit() first");
    checkUsers("BprRecommender.score", users, this.numUsers);
    const J = this.numItems;
    const { device } = this.opts;
    const out = noGrad(() =>
      tidy(() => {
        const ids = Int32Array.from(users);
        const pu = selectRows(this.p!, Tensor.from(ids, [users.length], { device }), ids);
        return matmul(pu, this.q!, { transB: true }).toFloat32(); // [users, J]
      }),
    );
    if (this.b) {
      const b = this.b.toFloat32();
      for (let r = 0; r < users.length; r++) for (let k = 0; k < J; k++) out[r * J + k] += b[k];
    }
    return out;
  }

  /** Frees the tables (fit() again to use the recommender). */
  dispose(): void {
    for (const t of [this.p, this.q, this.b]) t?.dispose();
    this.p = this.q = this.b = null;
  }
}
