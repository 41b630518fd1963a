// Right-padded, truncated batches of token ids (pad id 0, mask 1 = real) for docs, rec samples and eval prompts.
import type { CorpusDoc, DocKind, EvalPrompt, RecSample } from "./corpus_doc";
import type { Rng } from "../../shared/rng";

const WHERE = "makeBatches (src/cllm4rec/data/batches.ts)";

export interface BatchOptions {
  /** Shuffles the order when given; without it the order is the input's (or by length when lengthAware). */
  rng?: Rng;
  /** Group rows of similar length to cut padding. Default false. */
  lengthAware?: boolean;
  /** Length-aware pools: sort within runs of poolBatches·batchSize rows (default 50), then shuffle the batches. */
  poolBatches?: number;
  /** Most tokens per row, prompt + main. Default 1024 (GPT-2's positions). */
  maxTotal?: number;
}

interface PromptBlock {
  size: number;
  /** Tp = longest prompt in the batch. */
  promptLen: number;
  /** [B*Tp], row-major, right-padded with 0. */
  promptIds: Int32Array;
  promptMask: Int32Array;
  promptLengths: Int32Array;
  /** Dense user index per row (-1 for item-text docs). */
  users: Int32Array;
}

export interface DocBatch extends PromptBlock {
  kind: "docs";
  mainLen: number;
  /** [B*Tm] */
  mainIds: Int32Array;
  mainMask: Int32Array;
  mainLengths: Int32Array;
  items: Int32Array;
  docKinds: DocKind[];
}

export interface RecBatch extends PromptBlock {
  kind: "rec";
  targets: number[][];
  masked: number[][];
}

export interface EvalBatch extends PromptBlock {
  kind: "eval";
  exclude: number[][];
  truth: number[][];
}

/**
 * Lengths kept for one row. Docs: prompt + main <= maxTotal; the end of the main text is cut first; a prompt longer
 * than maxTotal − 1 keeps its LAST maxTotal − 1 tokens so at least one main token remains. Prompt-only rows (rec/eval)
 * keep their last maxTotal tokens (the closing `, user_i will interact with` always survives).
 */
export function truncatedLengths(promptLen: number, mainLen: number | null, maxTotal: number): { prompt: number; main: number } {
  if (mainLen === null) return { prompt: Math.min(promptLen, maxTotal), main: 0 };
  const prompt = Math.min(promptLen, mainLen > 0 ? maxTotal - 1 : maxTotal);
  return { prompt, main: Math.min(mainLen, maxTotal - prompt) };
}

type Row = CorpusDoc | RecSample | EvalPrompt;

function rowOrder(rows: readonly Row[], batchSize: number, lengths: Int32Array, o: BatchOptions): number[][] {
  const idx = Array.from({ length: rows.length }, (_, k) => k);
  if (o.rng) o.rng.shuffle(idx);
  const groups: number[][] = [];
  if (o.lengthAware) {
    const pool = batchSize * (o.poolBatches ?? 50);
    for (let s = 0; s < idx.length; s += pool) {
      // Stable sort of an already shuffled run: equal lengths stay in random order.
      const run = idx.slice(s, s + pool).sort((a, b) => lengths[a] - lengths[b]);
      for (let k = 0; k < run.length; k += batchSize) groups.push(run.slice(k, k + batchSize));
    }
    if (o.rng) o.rng.shuffle(groups);
  } else {
    for (let k = 0; k < idx.length; k += batchSize) groups.push(idx.slice(k, k + batchSize));
  }
  return groups;
}

function padRows(
  seqs: (readonly number[])[],
  keep: number[],
  fromEnd: boolean,
): { len: number; ids: Int32Array; mask: Int32Array; lengths: Int32Array } {
  const len = Math.max(0, ...keep);
  const ids = new Int32Array(seqs.length * len);
  const mask = new Int32Array(seqs.length * len);
  for (let r = 0; r < seqs.length; r++) {
    const s = seqs[r];
    const n = keep[r];
    const start = fromEnd ? s.length - n : 0;
    const row = r * len;
    for (let t = 0; t < n; t++) ids[row + t] = s[start + t];
    mask.fill(1, row, row + n);
  }
  return { len, ids, mask, lengths: Int32Array.from(keep) };
}

export function makeBatches(rows: readonly CorpusDoc[], batchSize: number, options?: BatchOptions): DocBatch[];
export function makeBatches(rows: readonly RecSample[], batchSize: number, options?: BatchOptions): RecBatch[];
export function makeBatches(rows: readonly EvalPrompt[], batchSize: number, options?: BatchOptions): EvalBatch[];
export function makeBatches(rows: readonly Row[], batchSize: number, options: BatchOptions = {}): (DocBatch | RecBatch | EvalBatch)[] {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`${WHERE}: batchSize must be a positive integer, got ${batchSize}`);
  const maxTotal = options.maxTotal ?? 1024;
  if (!Number.isInteger(maxTotal) || maxTotal < 2) throw new RangeError(`${WHERE}: maxTotal must be an integer >= 2, got ${maxTotal}`);
  if (rows.length === 0) return [];
  const kind = rows[0].kind === "rec" || rows[0].kind === "eval" ? rows[0].kind : "docs";
  const kept = rows.map((r, k) => {
    const rowKind = r.kind === "rec" || r.kind === "eval" ? r.kind : "docs";
    if (rowKind !== kind)
      throw new TypeError(`${WHERE}: row ${k} is a ${r.kind} row but row 0 is ${rows[0].kind}; batch one kind at a time`);
    const main = rowKind === "docs" ? (r as CorpusDoc).main.length : null;
    if (r.prompt.length === 0 && (main === null || main === 0))
      throw new RangeError(`${WHERE}: row ${k} (${r.kind}, user ${r.user}) has no tokens`);
    return truncatedLengths(r.prompt.length, main, maxTotal);
  });
  const lengths = Int32Array.from(kept, (k) => k.prompt + k.main);
  return rowOrder(rows, batchSize, lengths, options).map((group) => {
    const picked = group.map((k) => rows[k]);
    const prompt = padRows(
      picked.map((r) => r.prompt),
      group.map((k) => kept[k].prompt),
      true,
    );
    const block: PromptBlock = {
      size: group.length,
      promptLen: prompt.len,
      promptIds: prompt.ids,
      promptMask: prompt.mask,
      promptLengths: prompt.lengths,
      users: Int32Array.from(picked, (r) => r.user),
    };
    if (kind === "rec") {
      const recs = picked as RecSample[];
      return { kind, ...block, targets: recs.map((r) => r.target), masked: recs.map((r) => r.masked) };
    }
    if (kind === "eval") {
      const evals = picked as EvalPrompt[];
      return { kind, ...block, exclude: evals.map((r) => r.exclude), truth: evals.map((r) => r.truth) };
    }
    const docs = picked as CorpusDoc[];
    const main = padRows(
      docs.map((d) => d.main),
      group.map((k) => kept[k].main),
      false,
    );
    return {
      kind: "docs",
      ...block,
      mainLen: main.len,
      mainIds: main.ids,
      mainMask: main.mask,
      mainLengths: main.lengths,
      items: Int32Array.from(docs, (d) => d.item),
      docKinds: docs.map((d) => d.kind),
    };
  });
}

/** Fraction of padded cells (prompt and main together) over all cells of the batches. */
export function paddingFraction(batches: readonly (DocBatch | RecBatch | EvalBatch)[]): number {
  let cells = 0;
  let real = 0;
  for (const b of batches) {
    cells += b.size * b.promptLen;
    for (const l of b.promptLengths) real += l;
    if (b.kind === "docs") {
      cells += b.size * b.mainLen;
      for (const l of b.mainLengths) real += l;
    }
  }
  return cells === 0 ? 0 : 1 - real / cells;
}
