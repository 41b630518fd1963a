// Fit recommenders, time them, evaluate val and test, write compare.{md,json,svg}.
import * as fs from "node:fs";
import * as path from "node:path";
import {
  evaluateRanking,
  DEFAULT_NDCG_KS,
  DEFAULT_RECALL_KS,
  DEFAULT_TEST_EXCLUDE,
  type EvalOptions,
  type EvalResult,
  type TestExclude,
} from "../shared/metrics";
import { compareMarkdown } from "./compare_table";
import { compareSvg } from "./compare_chart";
import { checkSplit, type Recommender, type Split } from "./types";

/** One model's results; rows for models trained elsewhere (CLLM4Rec) have this shape too. */
export interface CompareRow {
  name: string;
  val: EvalResult;
  test: EvalResult;
  /** Wall-clock seconds of fit(); null when unknown. */
  trainSeconds: number | null;
  /** Seconds inside score() per 1,000 users scored (val + test); null when unknown. */
  scoreSecondsPer1k: number | null;
}

export interface CompareReport {
  dataset: string;
  numUsers: number;
  numItems: number;
  recallKs: number[];
  ndcgKs: number[];
  /** items left out of the test ranking: 'train' (authors) or 'train+val' (variant) */
  testExclude: TestExclude;
  valUsers: number;
  testUsers: number;
  rows: CompareRow[];
}

export interface CompareOptions {
  datasetName: string;
  outDir: string;
  /** Rows computed by the caller, appended after the trained recommenders. */
  extraRows?: CompareRow[];
  /** Cut-offs and batch size; default Recall@20/40, NDCG@100, 256 users per batch. */
  eval?: EvalOptions;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

function checkRow(row: CompareRow, recallKs: number[], ndcgKs: number[]): void {
  for (const side of ["val", "test"] as const) {
    const r = row[side];
    for (const k of recallKs) {
      if (typeof r?.recall?.[k] !== "number") throw new Error(`runCompare: row '${row.name}' lacks ${side}.recall[${k}]`);
    }
    for (const k of ndcgKs) {
      if (typeof r?.ndcg?.[k] !== "number") throw new Error(`runCompare: row '${row.name}' lacks ${side}.ndcg[${k}]`);
    }
  }
}

/** Fit and evaluate each recommender in turn, then write the three report files. */
export async function runCompare(split: Split, recommenders: Recommender[], opts: CompareOptions): Promise<CompareReport> {
  if (!opts || typeof opts.datasetName !== "string" || typeof opts.outDir !== "string") {
    throw new Error(`runCompare: opts.datasetName and opts.outDir must be strings, got ${JSON.stringify(opts)}`);
  }
  checkSplit("runCompare", split);
  const evalOpts: EvalOptions = {
    recallKs: opts.eval?.recallKs ?? [...DEFAULT_RECALL_KS],
    ndcgKs: opts.eval?.ndcgKs ?? [...DEFAULT_NDCG_KS],
    batchSize: opts.eval?.batchSize ?? 256,
    testExclude: opts.eval?.testExclude ?? DEFAULT_TEST_EXCLUDE,
  };
  const recallKs = evalOpts.recallKs!;
  const ndcgKs = evalOpts.ndcgKs!;
  const log = opts.log ?? (() => {});
  const rows: CompareRow[] = [];
  for (const rec of recommenders) {
    const t0 = performance.now();
    await rec.fit(split);
    const trainSeconds = (performance.now() - t0) / 1000;
    let scoreMs = 0;
    let scored = 0;
    const timedScore = async (users: number[]) => {
      const s0 = performance.now();
      const out = await rec.score(users);
      scoreMs += performance.now() - s0;
      scored += users.length;
      return out;
    };
    const val = await evaluateRanking(timedScore, split, "val", evalOpts);
    const test = await evaluateRanking(timedScore, split, "test", evalOpts);
    // ms per user equals seconds per 1,000 users.
    const row: CompareRow = { name: rec.name, val, test, trainSeconds, scoreSecondsPer1k: scored > 0 ? scoreMs / scored : null };
    log(`${rec.name}: train ${trainSeconds.toFixed(2)} s, test R@${recallKs[0]} ${test.recall[recallKs[0]].toFixed(4)}`);
    rows.push(row);
  }
  for (const row of opts.extraRows ?? []) {
    checkRow(row, recallKs, ndcgKs);
    rows.push(row);
  }
  const report: CompareReport = {
    dataset: opts.datasetName,
    numUsers: split.numUsers,
    numItems: split.numItems,
    recallKs,
    ndcgKs,
    testExclude: evalOpts.testExclude!,
    valUsers: split.val.filter((l) => l.length > 0).length,
    testUsers: split.test.filter((l) => l.length > 0).length,
    rows,
  };
  fs.mkdirSync(opts.outDir, { recursive: true });
  fs.writeFileSync(path.join(opts.outDir, "compare.md"), compareMarkdown(report));
  // JSON has no NaN: a metric with no evaluable user is written as null.
  fs.writeFileSync(path.join(opts.outDir, "compare.json"), JSON.stringify(report, null, 2) + "\n");
  fs.writeFileSync(path.join(opts.outDir, "compare.svg"), compareSvg(report));
  return report;
}
