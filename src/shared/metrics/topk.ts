// Top-K selection from one score row, with excluded items that are never ranked.
//
// Order: higher score first; equal scores rank the lower item index first, so the
// result is deterministic whatever the model. -Infinity is an ordinary (lowest) score
// for an item that is not excluded; NaN is an Error.
//
// A bounded heap of size K holds the current best K with the *worst* of them at the
// root, so each further item costs one comparison unless it enters: O(J + h log K).

/** Reusable selector: keeps its exclusion mask and heap between rows of length numItems. */
export class TopKSelector {
  readonly numItems: number;
  private readonly mask: Uint8Array;
  private heapIdx: Int32Array;
  private heapScore: Float64Array;

  constructor(numItems: number) {
    if (!Number.isInteger(numItems) || numItems < 0) {
      throw new Error(`TopKSelector: numItems must be a non-negative integer, got ${numItems}`);
    }
    this.numItems = numItems;
    this.mask = new Uint8Array(numItems);
    this.heapIdx = new Int32Array(0);
    this.heapScore = new Float64Array(0);
  }

  /**
   * Indices of the best min(k, eligible) items of `scores` (length numItems), best first.
   * `exclude` lists item indices that are never ranked (duplicates allowed).
   */
  select(scores: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): Int32Array {
    const n = this.numItems;
    if (scores.length !== n) {
      throw new Error(`topK: score row has length ${scores.length}, expected numItems = ${n}`);
    }
    if (!Number.isInteger(k) || k < 1) {
      throw new Error(`topK: k must be a positive integer, got ${k}`);
    }
    const mask = this.mask;
    if (exclude) {
      for (let e = 0; e < exclude.length; e++) {
        const j = exclude[e];
        if (!Number.isInteger(j) || j < 0 || j >= n) {
          this.clearMask(exclude, e);
          throw new Error(`topK: excluded item ${j} is out of range [0, ${n})`);
        }
        mask[j] = 1;
      }
    }
    try {
      return this.selectMasked(scores, Math.min(k, n));
    } finally {
      if (exclude) this.clearMask(exclude, exclude.length);
    }
  }

  private clearMask(exclude: ArrayLike<number>, upTo: number): void {
    for (let e = 0; e < upTo; e++) this.mask[exclude[e]] = 0;
  }

  private selectMasked(scores: ArrayLike<number>, k: number): Int32Array {
    if (this.heapIdx.length < k) {
      this.heapIdx = new Int32Array(k);
      this.heapScore = new Float64Array(k);
    }
    const hi = this.heapIdx;
    const hs = this.heapScore;
    const mask = this.mask;
    let size = 0;
    for (let j = 0; j < scores.length; j++) {
      const s = scores[j];
      if (Number.isNaN(s)) throw new Error(`topK: score of item ${j} is NaN`);
      if (mask[j] !== 0) continue;
      if (size < k) {
        // Sift up: the root must be the worst kept item.
        let c = size++;
        while (c > 0) {
          const p = (c - 1) >> 1;
          if (!worse(s, j, hs[p], hi[p])) break;
          hs[c] = hs[p];
          hi[c] = hi[p];
          c = p;
        }
        hs[c] = s;
        hi[c] = j;
      } else if (worse(hs[0], hi[0], s, j)) {
        siftDown(hs, hi, size, s, j);
      }
    }
    // Pop worst-first into the tail of the result, giving best-first order.
    const out = new Int32Array(size);
    for (let m = size - 1; m >= 0; m--) {
      out[m] = hi[0];
      const lastS = hs[m];
      const lastI = hi[m];
      if (m > 0) siftDown(hs, hi, m, lastS, lastI);
    }
    return out;
  }
}

/** True when (sa, ia) ranks below (sb, ib): lower score, or equal score and higher index. */
function worse(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa < sb || (sa === sb && ia > ib);
}

/** Replace the root of a heap of `size` entries by (s, j) and restore the heap. */
function siftDown(hs: Float64Array, hi: Int32Array, size: number, s: number, j: number): void {
  let c = 0;
  for (;;) {
    const l = 2 * c + 1;
    if (l >= size) break;
    let w = l;
    const r = l + 1;
    if (r < size && worse(hs[r], hi[r], hs[l], hi[l])) w = r;
    if (!worse(hs[w], hi[w], s, j)) break;
    hs[c] = hs[w];
    hi[c] = hi[w];
    c = w;
  }
  hs[c] = s;
  hi[c] = j;
}

/** One-off top-K of a score row; see TopKSelector.select. */
export function topK(scores: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): Int32Array {
  return new TopKSelector(scores.length).select(scores, k, exclude);
}
