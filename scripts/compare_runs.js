#!/usr/bin/env node
// One table and one curves chart for several CLLM4Rec runs of the same dataset and split
// (e.g. CLLM4Rec, LLM-CF, LLM-FixOrd, LLM-PreRec on one backbone) plus the baselines of a
// run made with --compare. Reads report.json / metrics.jsonl / compare.json; trains nothing.
//   node scripts/compare_runs.js --out DIR --title TEXT NAME=RUNDIR... [--baselines RUNDIR]

const fs = require("node:fs");
const path = require("node:path");
const { comparisonCurvesSvg, readCurveRecords } = require("../dist/cllm4rec/report/curves");

function args(argv) {
  const o = { runs: [], out: null, title: "CLLM4Rec runs", baselines: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--out") o.out = argv[++i];
    else if (a === "--title") o.title = argv[++i];
    else if (a === "--baselines") o.baselines = argv[++i];
    else if (a.includes("=")) {
      const [name, dir] = a.split(/=(.*)/s, 2);
      o.runs.push({ name, dir });
    } else throw new Error(`compare-runs: unexpected argument '${a}' (NAME=RUNDIR, --out, --title, --baselines)`);
  }
  if (!o.out || !o.runs.length) throw new Error("usage: compare_runs.js --out DIR [--title T] NAME=RUNDIR... [--baselines RUNDIR]");
  return o;
}

const readJson = (f) => {
  if (!fs.existsSync(f)) throw new Error(`compare-runs: ${f} does not exist (is the run finished?)`);
  return JSON.parse(fs.readFileSync(f, "utf8"));
};
const f4 = (x) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(4) : "—");
const row = (name, val, test, extra) =>
  `| ${name} | ${f4(val.recall[20])} | ${f4(val.recall[40])} | ${f4(val.ndcg[100])} | ${f4(test.recall[20])} | ${f4(test.recall[40])} | ${f4(test.ndcg[100])} | ${extra} |`;

function main() {
  const o = args(process.argv.slice(2));
  fs.mkdirSync(o.out, { recursive: true });
  const lines = [
    `# ${o.title}`,
    "",
    "| model | val R@20 | val R@40 | val N@100 | test R@20 | test R@40 | test N@100 | last content loss | train s |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  const curves = [];
  let dataset = null;
  for (const r of o.runs) {
    const rep = readJson(path.join(r.dir, "report.json"));
    if (dataset && rep.dataset !== dataset) throw new Error(`compare-runs: ${r.dir} is dataset ${rep.dataset}, the others ${dataset}`);
    dataset = rep.dataset;
    const recs = readCurveRecords(r.dir);
    const content = recs.filter((x) => Number.isFinite(x.contentLoss));
    const last = content.length ? content[content.length - 1].contentLoss : NaN;
    lines.push(row(r.name, rep.cllm4rec.val, rep.cllm4rec.test, `${f4(last)} | ${rep.totalSeconds.toFixed(0)}`));
    curves.push({ name: r.name, recs });
  }
  if (o.baselines) {
    const cmp = readJson(path.join(o.baselines, "compare.json"));
    for (const b of cmp.rows.filter((x) => x.name !== "CLLM4Rec"))
      lines.push(row(b.name, b.val, b.test, `— | ${b.trainSeconds === null ? "—" : b.trainSeconds.toFixed(0)}`));
  }
  lines.push(
    "",
    `dataset ${dataset}; the same split in every row; ln V = ${Math.log(50257).toFixed(3)} is the content loss of a uniform guess.`,
  );
  fs.writeFileSync(path.join(o.out, "comparison.md"), lines.join("\n") + "\n");
  fs.writeFileSync(path.join(o.out, "comparison-curves.svg"), comparisonCurvesSvg(o.title, curves));
  console.log(lines.join("\n"));
  console.log(`\nwrote ${path.join(o.out, "comparison.md")} and comparison-curves.svg`);
}

try {
  main();
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
