// Per-user ranking metrics exactly as SPEC.md §7.
//
// `ranked` is a best-first item list (e.g. from topK); it may be shorter than K when
// fewer items are eligible. `heldOut` is the user's held-out item set; it must be
// non-empty, because the spec averages only over users with at least one held-out item.

function heldOutSet(fn: string, heldOut: ArrayLike<number> | ReadonlySet<number>): ReadonlySet<number> {
  const set = heldOut instanceof Set ? heldOut : new Set(Array.from(heldOut as ArrayLike<number>));
  if (set.size === 0) {
    throw new Error(`${fn}: held-out set is empty; users without held-out items are excluded from the mean, not scored`);
  }
  return set;
}

function checkK(fn: string, k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new Error(`${fn}: k must be a positive integer, got ${k}`);
}

/** Recall@K = hits among the first K ranked items / min(K, |heldOut|). */
export function recallAtK(ranked: ArrayLike<number>, heldOut: ArrayLike<number> | ReadonlySet<number>, k: number): number {
  checkK("recallAtK", k);
  const set = heldOutSet("recallAtK", heldOut);
  const top = Math.min(k, ranked.length);
  let hits = 0;
  for (let r = 0; r < top; r++) if (set.has(ranked[r])) hits++;
  return hits / Math.min(k, set.size);
}

/**
 * NDCG@K = DCG@K / IDCG@K with binary gains 1/log2(rank + 1), rank starting at 1;
 * IDCG places min(K, |heldOut|) hits at ranks 1.. .
 */
export function ndcgAtK(ranked: ArrayLike<number>, heldOut: ArrayLike<number> | ReadonlySet<number>, k: number): number {
  checkK("ndcgAtK", k);
  const set = heldOutSet("ndcgAtK", heldOut);
  const top = Math.min(k, ranked.length);
  let dcg = 0;
  for (let r = 0; r < top; r++) if (set.has(ranked[r])) dcg += 1 / Math.log2(r + 2);
  let idcg = 0;
  const ideal = Math.min(k, set.size);
  for (let r = 0; r < ideal; r++) idcg += 1 / Math.log2(r + 2);
  return dcg / idcg;
}
