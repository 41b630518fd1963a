// The comparison table as markdown: one row per model, val and test metrics, timings.
import type { CompareReport } from "./compare";

const metric = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : "n/a");
const seconds = (x: number | null) => (x === null || !Number.isFinite(x) ? "—" : x.toFixed(2));

/** Column headers for the metric columns of one side ('Val' or 'Test'). */
function metricHeaders(side: string, report: CompareReport): string[] {
  return [...report.recallKs.map((k) => `${side} R@${k}`), ...report.ndcgKs.map((k) => `${side} N@${k}`)];
}

export function compareMarkdown(report: CompareReport): string {
  const header = ["Model", ...metricHeaders("Val", report), ...metricHeaders("Test", report), "Train (s)", "Score (s / 1k users)"];
  const align = header.map((_, i) => (i === 0 ? ":---" : "---:"));
  const lines = [
    `# Recommender comparison: ${report.dataset}`,
    "",
    `${report.numUsers} users, ${report.numItems} items. Means over users with at least one held-out item ` +
      `(val: ${report.valUsers}, test: ${report.testUsers}). Ranking excludes train items for val, ` +
      `${report.testExclude === "train" ? "train items for test (the authors' protocol)" : "train + val items for test (a variant, not the authors' protocol)"}` +
      `; test excludes: ${report.testExclude}. R = Recall, N = NDCG.`,
    "",
    `| ${header.join(" | ")} |`,
    `| ${align.join(" | ")} |`,
  ];
  for (const r of report.rows) {
    const cells = [
      r.name.replace(/\|/g, "\\|"),
      ...report.recallKs.map((k) => metric(r.val.recall[k])),
      ...report.ndcgKs.map((k) => metric(r.val.ndcg[k])),
      ...report.recallKs.map((k) => metric(r.test.recall[k])),
      ...report.ndcgKs.map((k) => metric(r.test.ndcg[k])),
      seconds(r.trainSeconds),
      seconds(r.scoreSecondsPer1k),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n") + "\n";
}
