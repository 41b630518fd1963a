// A dependency-free grouped bar chart (SVG): one group per model, one bar per test metric.
import type { CompareReport } from "./compare";

const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A tick step of 1, 2 or 5 times a power of ten giving about five ticks up to `max`. */
function tickStep(max: number): number {
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

export function compareSvg(report: CompareReport): string {
  const series = [
    ...report.recallKs.map((k) => ({ label: `Recall@${k}`, get: (r: CompareReport["rows"][number]) => r.test.recall[k] })),
    ...report.ndcgKs.map((k) => ({ label: `NDCG@${k}`, get: (r: CompareReport["rows"][number]) => r.test.ndcg[k] })),
  ];
  const values = report.rows.map((r) => series.map((s) => s.get(r)));
  const finite = values.flat().filter((v) => Number.isFinite(v));
  const vmax = Math.max(1e-9, ...finite);
  const step = tickStep(vmax);
  const top = Math.ceil(vmax / step - 1e-9) * step;

  const barW = 18;
  const groupW = Math.max(130, series.length * barW + 40);
  const left = 60,
    right = 150,
    plotTop = 40,
    plotH = 240,
    bottom = 50;
  const width = left + Math.max(1, report.rows.length) * groupW + right;
  const height = plotTop + plotH + bottom;
  const y = (v: number) => plotTop + plotH - (v / top) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${left}" y="22" font-size="15" font-weight="bold">Test metrics: ${esc(report.dataset)}</text>`);
  // Y axis with gridlines and tick labels.
  for (let t = 0; t <= top + step / 2; t += step) {
    const yy = y(t).toFixed(1);
    out.push(`<line x1="${left}" x2="${width - right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${+t.toFixed(6)}</text>`);
  }
  out.push(`<line x1="${left}" x2="${left}" y1="${plotTop}" y2="${plotTop + plotH}" stroke="black"/>`);
  out.push(`<line x1="${left}" x2="${width - right}" y1="${plotTop + plotH}" y2="${plotTop + plotH}" stroke="black"/>`);
  out.push(`<text transform="translate(16 ${plotTop + plotH / 2}) rotate(-90)" text-anchor="middle">metric value</text>`);
  // Bars, value labels, model names.
  report.rows.forEach((r, g) => {
    const gx = left + g * groupW + (groupW - series.length * barW) / 2;
    values[g].forEach((v, s) => {
      if (!Number.isFinite(v)) return;
      const x = gx + s * barW;
      out.push(
        `<rect x="${x}" y="${y(v).toFixed(1)}" width="${barW - 2}" height="${(plotH - (y(v) - plotTop)).toFixed(1)}" fill="${COLORS[s % COLORS.length]}"><title>${esc(r.name)} ${series[s].label}: ${v.toFixed(4)}</title></rect>`,
      );
      out.push(`<text x="${x + (barW - 2) / 2}" y="${(y(v) - 3).toFixed(1)}" font-size="9" text-anchor="middle">${v.toFixed(3)}</text>`);
    });
    out.push(
      `<text x="${left + g * groupW + groupW / 2}" y="${plotTop + plotH + 18}" font-size="11" text-anchor="middle">${esc(r.name)}</text>`,
    );
  });
  // Legend.
  series.forEach((s, i) => {
    const ly = plotTop + 10 + i * 20;
    out.push(`<rect x="${width - right + 20}" y="${ly - 9}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${width - right + 38}" y="${ly + 1}">${esc(s.label)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
