// Training-curve SVGs: every series with data is drawn (one path per series, a point per
// epoch), ln V is marked for the content loss, and bad metrics.jsonl lines name the line.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  trainingCurvesSvg,
  comparisonCurvesSvg,
  writeTrainingCurves,
  readCurveRecords,
  type CurveRecord,
} from "../../src/cllm4rec/report/curves";

const val = (r: number) => ({ recall: { "20": r, "40": r + 0.1 }, ndcg: { "100": r / 2 } });
const RECS: CurveRecord[] = [
  { global: 1, stage: "content", contentLoss: 9.1 },
  { global: 2, stage: "alternating", collabLoss: 6.2, contentLoss: 5.0 },
  { global: 3, stage: "alternating", collabLoss: 5.9, contentLoss: 4.1 },
  { global: 4, stage: "finetune", recLoss: 40.2, contentLoss: 4.0, val: val(0.3) },
  { global: 5, stage: "finetune", recLoss: 38.0, contentLoss: 3.9, val: val(0.35) },
];

test("trainingCurvesSvg draws each loss and metric series with one point per epoch", () => {
  const svg = trainingCurvesSvg("run", RECS);
  assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  assert.equal((svg.match(/<path /g) ?? []).length, 6, "3 losses + 3 metrics");
  assert.equal((svg.match(/content \(C-step\) @/g) ?? []).length, 5);
  assert.equal((svg.match(/RecLLM \(finetune\) @/g) ?? []).length, 2);
  assert.equal((svg.match(/Recall@20 @/g) ?? []).length, 2);
  assert.ok(svg.includes("ln V = 10.825"));
  assert.ok(svg.includes("Recall@20 @ 5: 0.3500"));
});

test("comparisonCurvesSvg: one line per run; writeTrainingCurves reads metrics.jsonl", () => {
  const svg = comparisonCurvesSvg("cmp", [
    { name: "pretrained", recs: RECS },
    { name: "random", recs: RECS.map((r) => ({ ...r, contentLoss: 10.8 })) },
  ]);
  assert.equal((svg.match(/random @/g) ?? []).length, 5 + 2 + 2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-curves-"));
  try {
    fs.writeFileSync(path.join(dir, "metrics.jsonl"), RECS.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const file = writeTrainingCurves(dir, "t");
    assert.ok(fs.readFileSync(file, "utf8").includes("<path "));
    fs.appendFileSync(path.join(dir, "metrics.jsonl"), "{oops\n");
    assert.throws(() => readCurveRecords(dir), /metrics\.jsonl:6: not JSON/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
