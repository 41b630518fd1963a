// Learning-rate schedule: linear warmup from 0, then cosine decay to minLr at totalSteps.

export interface CosineSchedule {
  lr: number;
  /** steps of linear warmup (lr * step / warmup) */
  warmup: number;
  totalSteps: number;
  /** floor of the cosine (default 0.1 * lr) */
  minLr?: number;
}

/** The learning rate of 1-based optimizer step `step`. */
export function cosineLr(s: CosineSchedule, step: number): number {
  const minLr = s.minLr ?? 0.1 * s.lr;
  if (!(step >= 1)) throw new RangeError(`cosineLr: step must be >= 1, got ${step}`);
  if (step <= s.warmup) return (s.lr * step) / s.warmup;
  const span = Math.max(1, s.totalSteps - s.warmup);
  const frac = Math.min(1, (step - s.warmup) / span);
  return minLr + 0.5 * (s.lr - minLr) * (1 + Math.cos(Math.PI * frac));
}
