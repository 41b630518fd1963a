// Multi-VAE (Liang, Krishnan, Hoffman, Jebara, WWW 2018), trained on our engine.
//   x = the user's item row, L2-normalised, dropout p on x while training;
//   encoder  h = tanh(x W1 + b1), mu = h Wmu + bmu, logvar = h Wlv + blv   [J -> 600 -> 2x200]
//   z = mu + eps * exp(logvar / 2) while training, z = mu when scoring;
//   decoder  logits = tanh(z W3 + b3) W4 + b4                              [200 -> 600 -> J]
//   loss = multinomial NLL of the (binary) row + beta * KL(q(z|x) || N(0, I)), means over users.
// beta grows linearly from 0 to betaCap over annealSteps updates, then stays. Liang's
// code anneals at 1/total_anneal_steps per update (cap 0.2 reached after 0.2 * 200,000 =
// 40,000 updates); small data sets have far fewer updates, so annealSteps defaults to
// 60% of this run's updates (documented in the options).
import {
  Tensor,
  tidy,
  noGrad,
  backward,
  add,
  scale,
  linear,
  multinomialNll,
  multiHotTargets,
  combineLosses,
  mul,
  tanh,
  exp,
  mean,
  type Device,
} from "../engine";
import { Adam } from "../nn/adam";
import { Rng } from "../shared/rng";
import { checkSplit, checkUsers, fitLists, type FitOptions, type Recommender, type Split } from "./types";
import { canSelectOnVal, epochLoop, param, valRecall20, xavierUniform } from "./neural";

export interface MultiVaeOptions {
  /** Hidden width of encoder and decoder; default 600. */
  hidden?: number;
  /** Latent size; default 200. */
  latent?: number;
  /** Input dropout probability while training; default 0.5. */
  dropout?: number;
  /** KL weight cap; default 0.2. */
  betaCap?: number;
  /** Updates over which beta grows from 0 to betaCap; default 60% of all updates. */
  annealSteps?: number;
  /** Adam learning rate; default 1e-3. */
  lr?: number;
  /** Users per update; default 500 (all users when fewer). */
  batchSize?: number;
  /** Passes over the users; default 100. */
  epochs?: number;
  /**
   * Evaluate validation Recall@20 every this many epochs and keep the best weights
   * (Liang et al. select on validation); default 1; 0 = keep the last epoch. Skipped
   * when fitting on train + val.
   */
  evalEvery?: number;
  /** Seed of init, dropout masks, eps and batch order; default 1. */
  seed?: number;
  /** Default 'cpu'. */
  device?: Device;
  /** Progress lines; default none. */
  log?: (line: string) => void;
}

interface Weights {
  w1: Tensor;
  b1: Tensor;
  wMu: Tensor;
  bMu: Tensor;
  wLv: Tensor;
  bLv: Tensor;
  w3: Tensor;
  b3: Tensor;
  w4: Tensor;
  b4: Tensor;
}

export class MultiVaeRecommender implements Recommender {
  readonly name = "Multi-VAE";
  readonly opts: Required<Omit<MultiVaeOptions, "annealSteps" | "log">> & { annealSteps: number | null };
  private readonly log: (line: string) => void;
  private w: Weights | null = null;
  private lists: number[][] = [];
  private numItems = 0;
  /** Epoch kept by validation selection (or the last), and updates run, after fit(). */
  bestEpoch = 0;
  updates = 0;

  constructor(opts: MultiVaeOptions = {}) {
    const o = {
      hidden: opts.hidden ?? 600,
      latent: opts.latent ?? 200,
      dropout: opts.dropout ?? 0.5,
      betaCap: opts.betaCap ?? 0.2,
      annealSteps: opts.annealSteps ?? null,
      lr: opts.lr ?? 1e-3,
      batchSize: opts.batchSize ?? 500,
      epochs: opts.epochs ?? 100,
      evalEvery: opts.evalEvery ?? 1,
      seed: opts.seed ?? 1,
      device: opts.device ?? "cpu",
    };
    const positiveInts = ["hidden", "latent", "batchSize", "epochs"] as const;
    for (const k of positiveInts) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`MultiVaeRecommender: ${k} must be a positive integer, got ${o[k]}`);
    }
    if (!Number.isInteger(o.evalEvery) || o.evalEvery < 0)
      throw new Error(`MultiVaeRecommender: evalEvery must be an integer >= 0, got ${o.evalEvery}`);
    if (!(o.dropout >= 0 && o.dropout < 1)) throw new Error(`MultiVaeRecommender: dropout must lie in [0, 1), got ${o.dropout}`);
    if (!(o.betaCap >= 0) || !(o.lr > 0))
      throw new Error(`MultiVaeRecommender: betaCap must be >= 0 and lr > 0, got ${o.betaCap}, ${o.lr}`);
    if (o.annealSteps !== null && !(Number.isInteger(o.annealSteps) && o.annealSteps >= 1)) {
      throw new Error(`MultiVaeRecommender: annealSteps must be a positive integer, got ${o.annealSteps}`);
    }
    this.opts = o;
    this.log = opts.log ?? (() => {});
  }

  async fit(split: Split, fitOpts: FitOptions = {}): Promise<void> {
    checkSplit("MultiVaeRecommender.fit", split);
    const { hidden: H, latent: K, device, dropout: p, betaCap } = this.opts;
    const J = split.numItems;
    this.dispose();
    this.lists = fitLists(split, fitOpts).map((items) => Array.from(new Set(items)));
    this.numItems = J;
    const rng = new Rng(this.opts.seed);
    const init = rng.fork("init");
    const bias = () => init.normal(0, 0.001);
    // mu and logvar heads are the two halves of Liang's [H, 2K] layer: Glorot over 2K outputs.
    const w: Weights = {
      w1: param([J, H], device, xavierUniform(init, J, H), "vae.w1"),
      b1: param([H], device, bias, "vae.b1"),
      wMu: param([H, K], device, xavierUniform(init, H, 2 * K), "vae.wMu"),
      bMu: param([K], device, bias, "vae.bMu"),
      wLv: param([H, K], device, xavierUniform(init, H, 2 * K), "vae.wLv"),
      bLv: param([K], device, bias, "vae.bLv"),
      w3: param([K, H], device, xavierUniform(init, K, H), "vae.w3"),
      b3: param([H], device, bias, "vae.b3"),
      w4: param([H, J], device, xavierUniform(init, H, J), "vae.w4"),
      b4: param([J], device, bias, "vae.b4"),
    };
    this.w = w;
    const params = Object.values(w);
    const opt = new Adam(params, { lr: this.opts.lr });
    // Users with no item have nothing to reconstruct (and no direction to normalise).
    const users = this.lists.map((l, u) => (l.length > 0 ? u : -1)).filter((u) => u >= 0);
    const B = Math.min(this.opts.batchSize, users.length);
    const batchesPerEpoch = Math.ceil(users.length / B);
    const annealSteps = this.opts.annealSteps ?? Math.max(1, Math.round(0.6 * this.opts.epochs * batchesPerEpoch));
    const order = rng.fork("order"),
      drop = rng.fork("dropout"),
      noise = rng.fork("eps");
    this.updates = 0;

    const step = (batch: number[]): number => {
      const n = batch.length;
      const target = multiHotTargets(
        batch.map((u) => this.lists[u]),
        J,
        "MultVAE",
      ); // sparse binary rows
      const x = this.rows(batch); // [n, J] L2-normalised
      const mask = new Float32Array(n * J);
      for (let i = 0; i < mask.length; i++) mask[i] = drop.float() < p ? 0 : 1 / (1 - p);
      const eps = new Float32Array(n * K);
      for (let i = 0; i < eps.length; i++) eps[i] = noise.normal();
      const beta = Math.min(betaCap, (betaCap * this.updates) / annealSteps);
      const v = tidy(() => {
        const xIn = mul(Tensor.from(x, [n, J], { device }), Tensor.from(mask, [n, J], { device }));
        const { mu, logvar } = this.encode(xIn);
        const z = add(mu, mul(Tensor.from(eps, [n, K], { device }), exp(logvar, 0.5))); // [n, K]
        const nll = multinomialNll(this.decode(z), target);
        // KL = mean_u 0.5 sum_k (exp(lv) + mu^2 - lv - 1) = 0.5 K (mean(exp(lv) + mu^2 - lv) - 1)
        const m = mean(add(add(exp(logvar), mul(mu, mu)), scale(logvar, -1)));
        const loss = combineLosses([
          [nll, 1],
          [m, beta * 0.5 * K],
        ]);
        backward(loss);
        return loss.item() - beta * 0.5 * K; // the constant of the KL, for the log only
      });
      opt.step();
      opt.zeroGrad();
      this.updates++;
      return v;
    };

    const res = await epochLoop({
      epochs: this.opts.epochs,
      evalEvery: canSelectOnVal(split, fitOpts.includeVal) ? this.opts.evalEvery : 0,
      params,
      runEpoch: () => {
        const perm = order.shuffle(users.slice());
        let sum = 0;
        for (let s = 0; s < perm.length; s += B) sum += step(perm.slice(s, s + B));
        return sum / batchesPerEpoch;
      },
      validate: () => valRecall20((us) => this.score(us), split),
      log: this.log,
      name: this.name,
    });
    opt.dispose();
    this.bestEpoch = res.bestEpoch;
  }

  /**
   * Unnormalised log-probabilities (decoder logits at z = mu) for `users`, [users, J].
   * Known items are not masked: the evaluator excludes them.
   */
  score(users: number[]): Float32Array {
    if (!this.w) throw new Error("MultiVaeRecommender.score: call fit() first");
    checkUsers("MultiVaeRecommender.score", users, this.lists.length);
    const J = this.numItems;
    const out = new Float32Array(users.length * J);
    const chunk = 1024;
    for (let s = 0; s < users.length; s += chunk) {
      const us = users.slice(s, s + chunk);
      const logits = noGrad(() =>
        tidy(() => {
          const x = Tensor.from(this.rows(us), [us.length, J], { device: this.opts.device });
          return this.decode(this.encode(x).mu).toFloat32();
        }),
      );
      out.set(logits, s * J);
    }
    return out;
  }

  /** Frees the weights (fit() again to use the recommender). */
  dispose(): void {
    if (this.w) for (const t of Object.values(this.w)) t.dispose();
    this.w = null;
  }

  private encode(x: Tensor): { mu: Tensor; logvar: Tensor } {
    const w = this.w!;
    const h = tanh(linear(x, w.w1, w.b1)); // [n, H]
    return { mu: linear(h, w.wMu, w.bMu), logvar: linear(h, w.wLv, w.bLv) }; // [n, K] each
  }

  private decode(z: Tensor): Tensor {
    const w = this.w!;
    return linear(tanh(linear(z, w.w3, w.b3)), w.w4, w.b4); // [n, J]
  }

  /** Host rows [users, J], L2-normalised (an empty row stays zero). */
  private rows(users: number[]): Float32Array {
    const J = this.numItems;
    const out = new Float32Array(users.length * J);
    users.forEach((u, r) => {
      const items = this.lists[u];
      const v = items.length > 0 ? 1 / Math.sqrt(items.length) : 1;
      for (const j of items) out[r * J + j] = v;
    });
    return out;
  }
}
