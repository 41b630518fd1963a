// Seeded PRNG (mulberry32) shared by splits, corpora and batching so every run is reproducible.

/** Mixes any integer (or string) seed into a well-spread 32-bit state (splitmix32 finaliser). */
export function seedToState(seed: number | string): number {
  let h: number;
  if (typeof seed === "string") {
    h = 0x811c9dc5;
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
  } else {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng (src/shared/rng.ts): seed must be a finite number or a string, got ${seed}`);
    h = (Math.trunc(seed) ^ Math.trunc(seed / 0x100000000)) | 0;
  }
  h = (h + 0x9e3779b9) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Rng {
  private state: number;
  private spareNormal: number | null = null;

  constructor(seed: number | string = 0) {
    this.state = seedToState(seed);
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Rng.int (src/shared/rng.ts): n must be a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** Fisher–Yates in place; returns the same array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** k distinct elements of `items` (or of 0..items-1 when a number), in random order. */
  sample<T>(items: readonly T[], k: number): T[];
  sample(items: number, k: number): number[];
  sample<T>(items: readonly T[] | number, k: number): (T | number)[] {
    const n = typeof items === "number" ? items : items.length;
    if (!Number.isInteger(k) || k < 0 || k > n) {
      throw new RangeError(`Rng.sample (src/shared/rng.ts): k must be an integer in 0..${n}, got ${k}`);
    }
    const idx = new Array<number>(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    // Partial Fisher–Yates: only the first k positions are drawn.
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
    idx.length = k;
    return typeof items === "number" ? idx : idx.map((i) => items[i]);
  }

  /** Standard normal (Box–Muller, the second value kept for the next call), scaled by std and shifted by mean. */
  normal(mean = 0, std = 1): number {
    let z: number;
    if (this.spareNormal !== null) {
      z = this.spareNormal;
      this.spareNormal = null;
    } else {
      let u = this.float();
      while (u === 0) u = this.float();
      const v = this.float();
      const r = Math.sqrt(-2 * Math.log(u));
      z = r * Math.cos(2 * Math.PI * v);
      this.spareNormal = r * Math.sin(2 * Math.PI * v);
    }
    return mean + std * z;
  }

  /** Index drawn with probability proportional to weights[i] (weights >= 0, sum > 0). */
  weighted(weights: ArrayLike<number>, total?: number): number {
    let sum = total ?? 0;
    if (total === undefined) for (let i = 0; i < weights.length; i++) sum += weights[i];
    if (!(sum > 0)) throw new RangeError("Rng.weighted (src/shared/rng.ts): weights must have a positive sum");
    let r = this.float() * sum;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
    return weights.length - 1;
  }

  /** An independent generator derived from this one's next output and a label. */
  fork(label: string | number = 0): Rng {
    return new Rng(`${this.nextUint32()}:${label}`);
  }
}
