// Training curves as dependency-free SVG line charts: loss per stage and validation
// metrics per epoch of one run (curves.svg in every run folder), and the same curves of
// several runs side by side (content-LLM comparisons).
import * as fs from "node:fs";
import * as path from "node:path";

/** The fields of a metrics.jsonl line the charts use. */
export interface CurveRecord {
  global: number;
  stage: string;
  collabLoss?: number;
  contentLoss?: number;
  recLoss?: number;
  val?: { recall: Record<string, number>; ndcg: Record<string, number> };
}

export interface Series {
  label: string;
  points: [number, number][];
  dashed?: boolean;
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
  /** horizontal reference lines, e.g. ln V for a uniform guess */
  refs?: { label: string; y: number }[];
}

const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#ff9da7", "#9c755f"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function niceStep(span: number): number {
  const raw = span / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

/** Panels stacked vertically, one shared x axis label ("epoch" unless given). */
export function lineChartSvg(title: string, panels: Panel[], xLabel = "epoch (all stages, in order)"): string {
  const W = 760,
    left = 64,
    right = 210,
    panelH = 220,
    gap = 70,
    top = 44;
  const height = top + panels.length * (panelH + gap);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${height}" fill="white"/>`);
  out.push(`<text x="${left}" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`);
  panels.forEach((p, pi) => {
    const y0 = top + pi * (panelH + gap) + 20;
    const pts = p.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const ys = [...pts.map(([, y]) => y), ...(p.refs ?? []).map((r) => r.y)];
    const xs = pts.map(([x]) => x);
    out.push(`<text x="${left}" y="${y0 - 8}" font-weight="bold">${esc(p.title)}</text>`);
    if (!pts.length) {
      out.push(`<text x="${left + 10}" y="${y0 + 30}" fill="#888">no data</text>`);
      return;
    }
    let ymin = Math.min(...ys),
      ymax = Math.max(...ys);
    if (ymax - ymin < 1e-9) [ymin, ymax] = [ymin - 0.5, ymax + 0.5];
    const step = niceStep(ymax - ymin);
    ymin = Math.floor(ymin / step) * step;
    ymax = Math.ceil(ymax / step) * step;
    const xmin = Math.min(...xs),
      xmax = Math.max(xmin + 1, Math.max(...xs));
    const X = (x: number) => left + ((x - xmin) / (xmax - xmin)) * (W - left - right);
    const Y = (y: number) => y0 + panelH - ((y - ymin) / (ymax - ymin)) * panelH;
    for (let t = ymin; t <= ymax + step / 2; t += step) {
      out.push(`<line x1="${left}" x2="${W - right}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" stroke="#e4e4e4"/>`);
      out.push(`<text x="${left - 6}" y="${Y(t).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${+t.toFixed(6)}</text>`);
    }
    const xstep = Math.max(1, Math.round(niceStep(xmax - xmin)));
    for (let t = Math.ceil(xmin / xstep) * xstep; t <= xmax; t += xstep)
      out.push(`<text x="${X(t).toFixed(1)}" y="${y0 + panelH + 16}" text-anchor="middle">${t}</text>`);
    out.push(`<line x1="${left}" x2="${left}" y1="${y0}" y2="${y0 + panelH}" stroke="black"/>`);
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y0 + panelH}" y2="${y0 + panelH}" stroke="black"/>`);
    out.push(`<text x="${(left + W - right) / 2}" y="${y0 + panelH + 34}" text-anchor="middle">${esc(xLabel)}</text>`);
    out.push(`<text transform="translate(16 ${y0 + panelH / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`);
    let legend = 0;
    for (const r of p.refs ?? []) {
      out.push(
        `<line x1="${left}" x2="${W - right}" y1="${Y(r.y).toFixed(1)}" y2="${Y(r.y).toFixed(1)}" stroke="#999" stroke-dasharray="2 3"/>`,
      );
      out.push(`<text x="${W - right + 8}" y="${y0 + 12 + 18 * legend++}" fill="#777">${esc(r.label)}</text>`);
    }
    p.series.forEach((s, si) => {
      const color = COLORS[si % COLORS.length];
      const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
      if (!good.length) return;
      const d = good.map(([x, y], i) => `${i ? "L" : "M"}${X(x).toFixed(1)} ${Y(y).toFixed(1)}`).join(" ");
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ""}/>`);
      for (const [x, y] of good)
        out.push(
          `<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.5" fill="${color}"><title>${esc(s.label)} @ ${x}: ${y.toFixed(4)}</title></circle>`,
        );
      const ly = y0 + 12 + 18 * legend++;
      out.push(
        `<line x1="${W - right + 8}" x2="${W - right + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ""}/>`,
      );
      out.push(`<text x="${W - right + 34}" y="${ly}">${esc(s.label)}</text>`);
    });
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

const pointsOf = (recs: CurveRecord[], get: (r: CurveRecord) => number | undefined): [number, number][] =>
  recs.filter((r) => get(r) !== undefined && Number.isFinite(get(r)!)).map((r) => [r.global, get(r)!]);

/** One run: loss of each side per epoch (with ln V for the content LLM) and validation metrics. */
export function trainingCurvesSvg(title: string, recs: CurveRecord[], vocabSize = 50257): string {
  const metric = (kind: "recall" | "ndcg", k: string) => (r: CurveRecord) => r.val?.[kind]?.[k];
  return lineChartSvg(title, [
    {
      title: "loss per stage",
      yLabel: "mean loss",
      series: [
        { label: "collaborative (L-step)", points: pointsOf(recs, (r) => r.collabLoss) },
        { label: "content (C-step)", points: pointsOf(recs, (r) => r.contentLoss) },
        { label: "RecLLM (finetune)", points: pointsOf(recs, (r) => r.recLoss) },
      ],
      refs: recs.some((r) => r.contentLoss !== undefined)
        ? [{ label: `ln V = ${Math.log(vocabSize).toFixed(3)}`, y: Math.log(vocabSize) }]
        : [],
    },
    {
      title: "validation metrics",
      yLabel: "value",
      series: [
        { label: "Recall@20", points: pointsOf(recs, metric("recall", "20")) },
        { label: "Recall@40", points: pointsOf(recs, metric("recall", "40")) },
        { label: "NDCG@100", points: pointsOf(recs, metric("ndcg", "100")) },
      ],
    },
  ]);
}

/** Several runs: content loss and validation Recall@20 per epoch, one line per run. */
export function comparisonCurvesSvg(title: string, runs: { name: string; recs: CurveRecord[] }[], vocabSize = 50257): string {
  return lineChartSvg(title, [
    {
      title: "content LLM loss (C-steps)",
      yLabel: "mean loss",
      series: runs.map((r) => ({ label: r.name, points: pointsOf(r.recs, (x) => x.contentLoss) })),
      refs: [{ label: `ln V = ${Math.log(vocabSize).toFixed(3)}`, y: Math.log(vocabSize) }],
    },
    {
      title: "collaborative LLM loss (L-steps)",
      yLabel: "mean loss",
      series: runs.map((r) => ({ label: r.name, points: pointsOf(r.recs, (x) => x.collabLoss) })),
    },
    {
      title: "validation Recall@20",
      yLabel: "Recall@20",
      series: runs.map((r) => ({ label: r.name, points: pointsOf(r.recs, (x) => x.val?.recall?.["20"]) })),
    },
  ]);
}

/** metrics.jsonl of a run folder (missing file: no records). */
export function readCurveRecords(runDir: string): CurveRecord[] {
  const file = path.join(runDir, "metrics.jsonl");
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as CurveRecord;
      } catch (e) {
        throw new Error(`${file}:${i + 1}: not JSON (${(e as Error).message})`);
      }
    });
}

/** Writes runDir/curves.svg from its metrics.jsonl; returns the file written. */
export function writeTrainingCurves(runDir: string, title: string, vocabSize = 50257): string {
  const file = path.join(runDir, "curves.svg");
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, trainingCurvesSvg(title, readCurveRecords(runDir), vocabSize));
  fs.renameSync(tmp, file);
  return file;
}
