// A trained run folder opened as an object: recommend, raw scores, embeddings, the
// dataset card. A thin layer over the pipeline's run reading and the scoring path.
import * as fs from "node:fs";
import * as path from "node:path";
import { noGrad, tidy } from "../engine";
import type { Device } from "../engine";
import { loadRun, scoringCorpora, type RunContext, type TrainReport } from "../cllm4rec/pipeline";
import { evaluateRun, type ScoreKind } from "../cllm4rec/predict/score";
import { promptBatch } from "../cllm4rec/train/corpora";
import { Rng } from "../cllm4rec/data";
import type { DatasetCard } from "../cllm4rec/data";
import { topK } from "../shared/metrics";
import type { EvalResult } from "../shared/metrics";
import type { TrainConfig } from "../cllm4rec/train/config";
import type { Corpora } from "../cllm4rec/train/corpora";
import { resolvePlan } from "../cllm4rec/train/plan";

export interface OpenRunOptions {
  /** "auto" (default: cuda when a GPU answers, else cpu), "cpu" or "cuda" */
  device?: "auto" | "cpu" | "cuda";
  /** CPU kernel threads (default: all cores) */
  threads?: number;
  /** progress lines while the dataset and backbone load (default: silent) */
  log?: (line: string) => void;
}

/** One recommended item: its original id and the model's score. */
export interface ScoredItem {
  item: string;
  score: number;
}

export interface Recommendation {
  user: string;
  items: ScoredItem[];
}

/** Which of a user's items are never recommended again. */
export type Exclude = "known" | "train" | "none";

export interface RecommendOptions {
  /** "known" (default): train + validation + test items; "train": training items only; "none" */
  exclude?: Exclude;
}

/** Raw scores [users.length, items.length], row-major; no item is masked. */
export interface ScoreMatrix {
  users: string[];
  items: readonly string[];
  data: Float32Array;
  /** scores of the r-th requested user (a view into data) */
  row(r: number): Float32Array;
}

/** A row-major [rows, dim] matrix copied to the host. */
export interface Matrix {
  shape: [number, number];
  data: Float32Array;
}

/** Both embedding tables of both sides; rows follow `users` and `items`. */
export interface Embeddings {
  users: readonly string[];
  items: readonly string[];
  dim: number;
  /** z^l: the collaborative (and, after finetuning, RecLLM) embeddings */
  collab: { user: Matrix; item: Matrix };
  /** z^c: the content embeddings */
  content: { user: Matrix; item: Matrix };
}

/** Thrown for user ids the run does not know; `users` lists them. */
export class UnknownUserError extends Error {
  readonly users: string[];
  constructor(users: string[], known: readonly string[]) {
    super(
      `unknown user id(s): ${users.slice(0, 10).join(", ")}${users.length > 10 ? ` (+${users.length - 10} more)` : ""} ` +
        `(the run knows ${known.length} users, e.g. ${known.slice(0, 3).join(", ")})`,
    );
    this.name = "UnknownUserError";
    this.users = users;
  }
}

/** Prompts per chunk of one forward pass (the evaluator's chunk size). */
const CHUNK = 64;

/** A trained run, reopened with its selected (best) embeddings. Call dispose() when done. */
export class Run {
  readonly dir: string;
  /** the dataset card (counts, filtering, text coverage) of the run's preprocessed data */
  readonly card: DatasetCard;
  readonly config: TrainConfig;
  readonly device: Device;
  /** original user and item ids, in the order of the model's tables */
  readonly users: readonly string[];
  readonly items: readonly string[];
  /** the training report (report.json) when the run finished */
  readonly report: TrainReport | undefined;
  /** the pipeline's view (dataset, backbone, tokenizer, model) for lower-level use */
  readonly context: RunContext;
  private readonly corpora: Corpora;
  private readonly index: Map<string, number>;
  private readonly kind: ScoreKind;
  private disposed = false;

  constructor(dir: string, ctx: RunContext) {
    this.dir = dir;
    this.context = ctx;
    this.card = ctx.dataset.card;
    this.config = ctx.spec.config;
    this.device = ctx.device;
    this.users = ctx.dataset.userIds;
    this.items = ctx.dataset.itemIds;
    this.index = new Map(ctx.dataset.userIds.map((u, i) => [u, i]));
    this.corpora = scoringCorpora(ctx);
    this.kind = resolvePlan(ctx.spec.config).scoring;
    const reportFile = path.join(dir, "report.json");
    this.report = fs.existsSync(reportFile) ? (JSON.parse(fs.readFileSync(reportFile, "utf8")) as TrainReport) : undefined;
  }

  hasUser(id: string): boolean {
    return this.index.has(id);
  }

  /** Table rows of the given original user ids; UnknownUserError lists every unknown one. */
  userIndices(ids: readonly string[]): number[] {
    const unknown = ids.filter((u) => !this.index.has(u));
    if (unknown.length) throw new UnknownUserError([...new Set(unknown)], this.users);
    return ids.map((u) => this.index.get(u)!);
  }

  /**
   * Scores [users.length, J] for table rows, in one forward pass per 64 users. Each
   * user's prompt lists its training items in an order fixed by (seed, user), so a
   * user's scores do not depend on which other users share the batch.
   */
  scoreIndices(users: readonly number[]): Float32Array {
    this.alive();
    const J = this.items.length;
    const maxTokens = Math.min(this.config.maxTokens, this.context.backbone.config.nPositions);
    const out = new Float32Array(users.length * J);
    noGrad(() => {
      for (let s = 0; s < users.length; s += CHUNK) {
        const rows = users.slice(s, s + CHUNK).map((u) => {
          const one = this.corpora.evalBatch([u], new Rng(`${this.config.seed}:recommend:${u}`), this.kind);
          return one.promptIds.subarray(0, one.promptLengths[0]);
        });
        out.set(
          tidy(() =>
            this.context.model
              .recScores(
                promptBatch(
                  Array.from(rows, (r) => Array.from(r)),
                  maxTokens,
                ),
              )
              .toFloat32(),
          ),
          s * J,
        );
      }
    });
    return out;
  }

  /** Items a user (table row) must not be recommended under `exclude`. */
  excluded(u: number, exclude: Exclude = "known"): number[] {
    const ds = this.context.dataset;
    if (exclude === "none") return [];
    if (exclude === "train") return ds.train[u];
    return [...ds.train[u], ...ds.val[u], ...ds.test[u]];
  }

  /** Top-`top` items per row of `scores` ([users.length, J]), best first. */
  rank(users: readonly number[], scores: Float32Array, top: number | readonly number[], exclude: Exclude = "known"): Recommendation[] {
    const J = this.items.length;
    return users.map((u, r) => {
      const k = typeof top === "number" ? top : top[r];
      const row = scores.subarray(r * J, (r + 1) * J);
      const best = topK(row, Math.min(k, J), this.excluded(u, exclude));
      return { user: this.users[u], items: Array.from(best, (j) => ({ item: this.items[j], score: row[j] })) };
    });
  }

  /** The top-`top` items (original ids) for each user, never one the user already has. */
  recommend(users: string | readonly string[], top = 10, o: RecommendOptions = {}): Recommendation[] {
    const ids = typeof users === "string" ? [users] : [...users];
    checkTop(top);
    const exclude = o.exclude ?? "known";
    if (!["known", "train", "none"].includes(exclude))
      throw new RangeError(`recommend: exclude must be known, train or none, got '${exclude}'`);
    const idx = this.userIndices(ids);
    return this.rank(idx, this.scoreIndices(idx), top, exclude);
  }

  /** Raw scores over all items for each user (nothing masked); see ScoreMatrix. */
  scores(users: string | readonly string[]): ScoreMatrix {
    const ids = typeof users === "string" ? [users] : [...users];
    const data = this.scoreIndices(this.userIndices(ids));
    const J = this.items.length;
    return { users: ids, items: this.items, data, row: (r: number) => data.subarray(r * J, (r + 1) * J) };
  }

  /** Host copies of the four trained tables. */
  embeddings(): Embeddings {
    this.alive();
    const m = this.context.model;
    const mat = (t: typeof m.collab.user): Matrix => ({ shape: [t.shape[0], t.shape[1]], data: t.toFloat32() });
    return {
      users: this.users,
      items: this.items,
      dim: m.d,
      collab: { user: mat(m.collab.user), item: mat(m.collab.item) },
      content: { user: mat(m.content.user), item: mat(m.content.item) },
    };
  }

  /** Recall@20/40 and NDCG@100 on the validation or test split (the evaluate command's numbers). */
  evaluate(split: "val" | "test"): Promise<EvalResult> {
    this.alive();
    if (split !== "val" && split !== "test") throw new RangeError(`evaluate: split must be val or test, got '${String(split)}'`);
    return evaluateRun(this.context.model, this.corpora, this.context.dataset, split, this.config, this.kind);
  }

  /** Frees the model's device memory; the backbone's weights are freed with it. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.context.model.dispose();
    for (const p of this.context.backbone.parameters()) p.dispose();
  }

  private alive(): void {
    if (this.disposed) throw new Error(`run ${this.dir} was disposed`);
  }
}

export function checkTop(top: unknown): asserts top is number {
  if (!(typeof top === "number" && Number.isInteger(top) && top > 0))
    throw new RangeError(`top must be a positive integer, got ${String(top)}`);
}

/** Reopens a run folder written by training (run.json + the epoch state.json commits: best or last tables). */
export async function openRun(dir: string, o: OpenRunOptions = {}): Promise<Run> {
  if (typeof dir !== "string" || dir === "") throw new TypeError("openRun: dir must be a run folder path");
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new Error(`openRun: ${abs} does not exist`);
  const ctx = await loadRun(abs, { device: o.device, threads: o.threads, log: o.log ?? (() => {}) });
  return new Run(abs, ctx);
}
