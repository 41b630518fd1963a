// The contract every recommender (baseline or CLLM4Rec) meets for comparison.

/** Per-user dense item index lists; a dataset's split is a structural superset of this. */
export interface Split {
  numUsers: number;
  numItems: number;
  train: number[][];
  val: number[][];
  test: number[][];
}

export interface FitOptions {
  /** Fit on train + val (for a final test-only run); default false: train only. */
  includeVal?: boolean;
}

export interface Recommender {
  readonly name: string;
  /** Learn from split.train (and split.val when opts.includeVal). */
  fit(split: Split, opts?: FitOptions): Promise<void>;
  /**
   * Scores for `users` as row-major [users.length, numItems]. Known items are not
   * masked here: the evaluator excludes them.
   */
  score(users: number[]): Float32Array | Promise<Float32Array>;
}

/** The user → item lists a recommender learns from under `opts`. */
export function fitLists(split: Split, opts: FitOptions = {}): number[][] {
  if (!opts.includeVal) return split.train;
  return split.train.map((items, u) => items.concat(split.val[u]));
}

/** Throws unless `split` is well-formed: sizes, list counts, items in range. */
export function checkSplit(fn: string, split: Split): void {
  const { numUsers, numItems } = split;
  if (!Number.isInteger(numUsers) || numUsers < 0 || !Number.isInteger(numItems) || numItems < 1) {
    throw new Error(`${fn}: bad split sizes numUsers=${numUsers}, numItems=${numItems}`);
  }
  for (const part of ["train", "val", "test"] as const) {
    const lists = split[part];
    if (!Array.isArray(lists) || lists.length !== numUsers) {
      throw new Error(`${fn}: split.${part} has ${lists?.length} user lists, expected numUsers=${numUsers}`);
    }
    for (let u = 0; u < numUsers; u++) {
      for (const j of lists[u]) {
        if (!Number.isInteger(j) || j < 0 || j >= numItems) {
          throw new Error(`${fn}: split.${part}[${u}] has item ${j} out of range [0, ${numItems})`);
        }
      }
    }
  }
}

/** Throws unless every user id is an integer in [0, numUsers). */
export function checkUsers(fn: string, users: number[], numUsers: number): void {
  for (const u of users) {
    if (!Number.isInteger(u) || u < 0 || u >= numUsers) {
      throw new Error(`${fn}: user ${u} out of range [0, ${numUsers})`);
    }
  }
}
