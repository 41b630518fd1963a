// Independent references for the baseline tests: textbook algorithms, no shared code.

/** Inverse by Gauss-Jordan elimination with partial pivoting. */
export function gaussJordanInverse(m: number[][]): number[][] {
  const n = m.length;
  const a = m.map((row, i) => [...row, ...row.map((_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) piv = r;
    [a[c], a[piv]] = [a[piv], a[c]];
    const d = a[c][c];
    for (let j = 0; j < 2 * n; j++) a[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c];
      for (let j = 0; j < 2 * n; j++) a[r][j] -= f * a[c][j];
    }
  }
  return a.map((row) => row.slice(n));
}

export { lcg } from "../helpers";

/** Random symmetric positive-definite matrix: M M^T + n I. */
export function randomSpd(n: number, rnd: () => number): number[][] {
  const m = Array.from({ length: n }, () => Array.from({ length: n }, () => rnd() * 2 - 1));
  return m.map((ri, i) => m.map((rj, j) => ri.reduce((s, x, t) => s + x * rj[t], 0) + (i === j ? n : 0)));
}

/** Mean Recall@K over users with test items, by a full sort of the non-excluded items. */
export function naiveRecall(scores: number[][], exclude: number[][], heldOut: number[][], k: number): number {
  let sum = 0;
  let users = 0;
  scores.forEach((row, u) => {
    if (heldOut[u].length === 0) return;
    const ex = new Set(exclude[u]);
    const order = row.map((_, j) => j).filter((j) => !ex.has(j));
    order.sort((a, b) => row[b] - row[a] || a - b);
    const hits = order.slice(0, k).filter((j) => heldOut[u].includes(j)).length;
    sum += hits / Math.min(k, heldOut[u].length);
    users++;
  });
  return sum / users;
}
