// --compare: the baselines on the same split, next to the CLLM4Rec run, in one table.
import * as path from "node:path";
import { loadRun, type TrainReport } from "../cllm4rec/pipeline";
import { runCompare, PopularityRecommender, EaseRecommender, MultiVaeRecommender, BprRecommender, type Recommender } from "../baselines";
import type { OpenOptions } from "../cllm4rec/pipeline";

export async function runComparison(outDir: string, report: TrainReport, open: OpenOptions): Promise<void> {
  const ctx = await loadRun(outDir, { ...open, log: () => {} });
  // The neural baselines train on the run's device, with their papers' defaults
  // (epochs chosen on validation Recall@20; see src/baselines/{multivae,bpr}.ts).
  const recs: Recommender[] = [
    new PopularityRecommender(),
    new EaseRecommender(),
    new MultiVaeRecommender({ device: ctx.device }),
    new BprRecommender({ device: ctx.device }),
  ];
  const res = await runCompare(ctx.dataset, recs, {
    datasetName: ctx.dataset.name,
    outDir,
    log: open.log,
    eval: { testExclude: report.config.testExclude },
    extraRows: [
      {
        name: "CLLM4Rec",
        val: report.cllm4rec.val,
        test: report.cllm4rec.test,
        trainSeconds: report.totalSeconds,
        scoreSecondsPer1k: report.scoreSecondsPer1k,
      },
    ],
  });
  open.log?.(`comparison of ${res.rows.length} models written to ${path.join(outDir, "compare.md")} (.json, .svg)`);
}
