// Per-user random train/validation/test split of positives with documented rounding.
import { Rng } from "../../shared/rng";

export interface SplitFractions {
  valFraction: number;
  testFraction: number;
}

const roundHalfUp = (x: number): number => Math.floor(x + 0.5);

/**
 * Counts for a user with n >= 3 positives: test = max(1, round(testFraction·n)), val = max(1, round(valFraction·n))
 * (round half up), train = the rest; when train would drop below 1 the larger of val/test gives one back
 * (test first on ties) until train >= 1. Example with 10%/10%: n=3..14 -> 1/1/n-2, n=15 -> 2 val, 2 test.
 */
export function splitCounts(n: number, f: SplitFractions): { train: number; val: number; test: number } {
  if (!Number.isInteger(n) || n < 3)
    throw new RangeError(
      `splitCounts (src/cllm4rec/data/split.ts): a user needs >= 3 positives to get 1 train, 1 val and 1 test item, got ${n}`,
    );
  let test = Math.max(1, roundHalfUp(f.testFraction * n));
  let val = Math.max(1, roundHalfUp(f.valFraction * n));
  while (n - val - test < 1) {
    if (test >= val && test > 1) test--;
    else val--;
  }
  return { train: n - val - test, val, test };
}

/**
 * positives[u] = dense item ids of user u (any order). Users are visited in dense id order; each user's items
 * are sorted, shuffled with the one seeded generator, then cut into train | val | test; each part is returned sorted.
 */
export function splitPositives(
  positives: number[][],
  f: SplitFractions,
  seed: number,
): { train: number[][]; val: number[][]; test: number[][] } {
  const rng = new Rng(seed);
  const train: number[][] = [];
  const val: number[][] = [];
  const test: number[][] = [];
  for (const items of positives) {
    const order = rng.shuffle([...items].sort((a, b) => a - b));
    const c = splitCounts(order.length, f);
    const asc = (a: number, b: number): number => a - b;
    train.push(order.slice(0, c.train).sort(asc));
    val.push(order.slice(c.train, c.train + c.val).sort(asc));
    test.push(order.slice(c.train + c.val).sort(asc));
  }
  return { train, val, test };
}
