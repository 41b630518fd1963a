// Summary statistics of a preprocessed dataset: a compact table for logs and a JSON record.
import type { ReadIssue } from "./issues";

export interface DatasetCard {
  name: string;
  source: string;
  options: Record<string, unknown>;
  raw: { rows: number; users: number; items: number; badRows: number; badRowExamples: ReadIssue[] };
  filtering: {
    duplicatePairs: number;
    positivePairs: number;
    afterCorePairs: number;
    droppedUsersUnsplittable: number;
  };
  users: number;
  items: number;
  interactions: { train: number; val: number; test: number; total: number };
  density: number;
  perUser: { min: number; median: number; max: number; mean: number };
  perItem: { min: number; median: number; max: number; mean: number };
  textCoverage: { itemsWithText: number; usersWithText: number; trainPairsWithReview: number; trainPairs: number };
}

/** min / median (lower middle for even counts) / max / mean of a list of counts. */
export function countStats(counts: number[]): { min: number; median: number; max: number; mean: number } {
  if (counts.length === 0) return { min: 0, median: 0, max: 0, mean: 0 };
  const s = [...counts].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { min: s[0], median: s[(s.length - 1) >> 1], max: s[s.length - 1], mean: Math.round(mean * 100) / 100 };
}

const pct = (a: number, b: number): string => (b === 0 ? "-" : `${((100 * a) / b).toFixed(1)}%`);
const num = (n: number): string => n.toLocaleString("en-US");

/** A small two-column table, one fact per line. */
export function formatDatasetCard(card: DatasetCard): string {
  const rows: [string, string][] = [
    ["dataset", `${card.name} (${card.source})`],
    ["raw rows / users / items", `${num(card.raw.rows)} / ${num(card.raw.users)} / ${num(card.raw.items)}`],
    ["bad rows", num(card.raw.badRows)],
    ["duplicate pairs collapsed", num(card.filtering.duplicatePairs)],
    ["positive pairs", num(card.filtering.positivePairs)],
    ["after k-core", num(card.filtering.afterCorePairs)],
    ["users / items", `${num(card.users)} / ${num(card.items)}`],
    ["train / val / test", `${num(card.interactions.train)} / ${num(card.interactions.val)} / ${num(card.interactions.test)}`],
    ["density", `${(100 * card.density).toFixed(3)}%`],
    ["per user min / median / max", `${card.perUser.min} / ${card.perUser.median} / ${card.perUser.max} (mean ${card.perUser.mean})`],
    ["per item min / median / max", `${card.perItem.min} / ${card.perItem.median} / ${card.perItem.max} (mean ${card.perItem.mean})`],
    ["items with text", `${num(card.textCoverage.itemsWithText)} (${pct(card.textCoverage.itemsWithText, card.items)})`],
    ["users with text", `${num(card.textCoverage.usersWithText)} (${pct(card.textCoverage.usersWithText, card.users)})`],
    [
      "train pairs with review",
      `${num(card.textCoverage.trainPairsWithReview)} (${pct(card.textCoverage.trainPairsWithReview, card.textCoverage.trainPairs)})`,
    ],
  ];
  if (card.filtering.droppedUsersUnsplittable > 0)
    rows.splice(6, 0, ["users with < 3 positives dropped", num(card.filtering.droppedUsersUnsplittable)]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}
