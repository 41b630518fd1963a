// EASE (Steck, WWW 2019): a closed-form item-item linear model.
//   G = X^T X + lambda I,  P = G^-1,  B = I - P diag(1/diag(P)),  so diag(B) = 0;
//   scores = X B, i.e. a user's row is the sum of the B rows of the user's items.
import { invertSpd } from "./cholesky";
import { checkSplit, checkUsers, fitLists, type FitOptions, type Recommender, type Split } from "./types";

export interface EaseOptions {
  /**
   * L2 strength lambda; default 500 (Steck's order of magnitude for dense item-item
   * models; tune on validation, small data sets often prefer 50-300).
   */
  lambda?: number;
}

export class EaseRecommender implements Recommender {
  readonly name: string;
  readonly lambda: number;
  private b: Float32Array | null = null; // [J, J], row i = weights from item i
  private lists: number[][] = [];
  private numItems = 0;

  constructor(opts: EaseOptions = {}) {
    const lambda = opts.lambda ?? 500;
    if (!Number.isFinite(lambda) || lambda < 0) {
      throw new Error(`EaseRecommender: lambda must be a finite number >= 0, got ${lambda}`);
    }
    this.lambda = lambda;
    this.name = `EASE (lambda=${lambda})`;
  }

  async fit(split: Split, opts: FitOptions = {}): Promise<void> {
    checkSplit("EaseRecommender.fit", split);
    const J = split.numItems;
    const lists = fitLists(split, opts).map((items) => Array.from(new Set(items)));
    this.b = easeWeights(lists, J, this.lambda);
    this.lists = lists;
    this.numItems = J;
  }

  /** The learned item-item matrix B, [numItems, numItems] row-major, zero diagonal. */
  weights(): Float32Array {
    if (!this.b) throw new Error("EaseRecommender.weights: call fit() first");
    return this.b;
  }

  score(users: number[]): Float32Array {
    const b = this.b;
    if (!b) throw new Error("EaseRecommender.score: call fit() first");
    checkUsers("EaseRecommender.score", users, this.lists.length);
    const J = this.numItems;
    const out = new Float32Array(users.length * J); // [users, J]
    for (let r = 0; r < users.length; r++) {
      const o = r * J;
      for (const i of this.lists[users[r]]) {
        const bi = i * J;
        for (let j = 0; j < J; j++) out[o + j] += b[bi + j];
      }
    }
    return out;
  }
}

/** B for binary user rows given as item lists (no duplicates) over `numItems` items. */
export function easeWeights(lists: number[][], numItems: number, lambda: number): Float32Array {
  const J = numItems;
  const g = new Float64Array(J * J); // G = X^T X + lambda I: [J, J]
  for (const items of lists) {
    for (const a of items) {
      const ra = a * J;
      for (const c of items) g[ra + c] += 1;
    }
  }
  for (let i = 0; i < J; i++) g[i * J + i] += lambda;
  let p: Float64Array;
  try {
    p = invertSpd(g, J, true);
  } catch (e) {
    throw new Error(`easeWeights: G = X^T X + ${lambda} I is not positive definite (${(e as Error).message})`);
  }
  const b = new Float32Array(J * J);
  for (let i = 0; i < J; i++) {
    const ri = i * J;
    for (let j = 0; j < J; j++) b[ri + j] = i === j ? 0 : -p[ri + j] / p[j * J + j];
  }
  return b;
}
