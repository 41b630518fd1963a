// Host-side layout of a prompt+main batch as one right-padded sequence per row:
// [prompt (Tp, padded) | main (Tm, padded)]. Positions are contiguous per row (main
// continues from the row's real prompt length), so this single causal pass equals
// running the prompt first and letting the main text attend to its keys/values
// (SPEC.md §3); padded keys are masked out.

export interface PromptMainBatch {
  size: number;
  promptLen: number;
  mainLen: number;
  promptIds: Int32Array; // [B*Tp]
  promptMask: Int32Array; // [B*Tp]
  mainIds: Int32Array; // [B*Tm]
  mainMask: Int32Array; // [B*Tm]
  promptLengths: ArrayLike<number>;
  mainLengths: ArrayLike<number>;
}

export interface SequenceLayout {
  batch: number;
  t: number; // Tp + Tm
  ids: Int32Array; // [B*T]
  mask: Int32Array; // [B*T]
  positions: Int32Array; // [B*T]
  /** row (in [B*T]) whose hidden state predicts main token k, for every real main token */
  predictRows: Int32Array;
  /** the main token ids being predicted, aligned with predictRows */
  predictIds: Int32Array;
}

export function layoutPromptMain(b: PromptMainBatch): SequenceLayout {
  const B = b.size,
    Tp = b.promptLen,
    Tm = b.mainLen,
    T = Tp + Tm;
  const ids = new Int32Array(B * T),
    mask = new Int32Array(B * T),
    positions = new Int32Array(B * T);
  const rows: number[] = [],
    targets: number[] = [];
  for (let r = 0; r < B; r++) {
    const lp = b.promptLengths[r],
      lm = b.mainLengths[r];
    if (lp < 1)
      throw new RangeError(`batch row ${r}: a prompt needs at least one token (the last prompt position predicts the first main token)`);
    for (let t = 0; t < Tp; t++) {
      ids[r * T + t] = b.promptIds[r * Tp + t];
      mask[r * T + t] = b.promptMask[r * Tp + t];
      positions[r * T + t] = t < lp ? t : 0;
    }
    for (let t = 0; t < Tm; t++) {
      ids[r * T + Tp + t] = b.mainIds[r * Tm + t];
      mask[r * T + Tp + t] = b.mainMask[r * Tm + t];
      positions[r * T + Tp + t] = t < lm ? lp + t : 0;
    }
    for (let t = 0; t < lm; t++) {
      // the last prompt position predicts the first main token (SPEC.md §3)
      rows.push(t === 0 ? r * T + lp - 1 : r * T + Tp + t - 1);
      targets.push(b.mainIds[r * Tm + t]);
    }
  }
  return { batch: B, t: T, ids, mask, positions, predictRows: Int32Array.from(rows), predictIds: Int32Array.from(targets) };
}

/** A prompt-only batch (RecLLM, evaluation): its layout and the last real prompt row of each entry. */
export function layoutPromptOnly(
  promptIds: Int32Array,
  promptMask: Int32Array,
  lengths: ArrayLike<number>,
  B: number,
  Tp: number,
): { ids: Int32Array; mask: Int32Array; positions: Int32Array; lastRows: Int32Array } {
  const positions = new Int32Array(B * Tp);
  const lastRows = new Int32Array(B);
  for (let r = 0; r < B; r++) {
    const lp = lengths[r];
    if (lp < 1 || lp > Tp) throw new RangeError(`prompt row ${r}: length ${lp} outside [1, ${Tp}]`);
    for (let t = 0; t < Tp; t++) positions[r * Tp + t] = t < lp ? t : 0;
    lastRows[r] = r * Tp + lp - 1;
  }
  return { ids: promptIds, mask: promptMask, positions, lastRows };
}
