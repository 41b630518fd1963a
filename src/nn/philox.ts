// Philox4x32-10 (Salmon et al., SC'11), a counter-based generator: the random bits for an
// element are a pure function of (key, counter), so a dropout mask depends only on (seed,
// site, step, element index) — nothing to store, replay on --resume, or keep in sync between
// devices. This is the reference the dropout masks use (and a native twin must match).
import type { DropoutStream } from "../engine";

/** High 32 bits of the 64-bit product of two uint32 values. */
function mulhi(a: number, b: number): number {
  const a0 = a & 0xffff,
    a1 = a >>> 16,
    b0 = b & 0xffff,
    b1 = b >>> 16;
  const mid = a1 * b0 + ((a0 * b0) >>> 16);
  const mid2 = a0 * b1 + (mid & 0xffff);
  return (a1 * b1 + Math.floor(mid / 65536) + Math.floor(mid2 / 65536)) >>> 0;
}

/** Ten Philox rounds of counter (c0..c3) under key (k0, k1); writes 4 uint32 words into out. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(0xd2511f53, c0),
      lo0 = Math.imul(0xd2511f53, c0) >>> 0;
    const hi1 = mulhi(0xcd9e8d57, c2),
      lo1 = Math.imul(0xcd9e8d57, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** Fixed second key word: separates dropout streams from any other use of the seed. */
export const DROPOUT_KEY1 = 0x6c6c6d34;

/**
 * Keep-mask scaled for inverted dropout: element i is 1/(1-p) when the top 24 bits of word
 * i%4 of block i/4 (counter [block_lo, block_hi, site, step], key [seed, DROPOUT_KEY1]) are
 * >= round(p * 2^24), else 0.
 */
export function dropoutMask(n: number, p: number, s: DropoutStream): Float32Array {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  const threshold = Math.round(p * 2 ** 24);
  const scale = Math.fround(1 / (1 - p));
  const out = new Float32Array(n);
  const w = new Uint32Array(4);
  for (let b = 0; b * 4 < n; b++) {
    philox4x32(b >>> 0, Math.floor(b / 2 ** 32) >>> 0, s.site >>> 0, s.step >>> 0, s.seed >>> 0, DROPOUT_KEY1, w);
    for (let k = 0; k < 4 && b * 4 + k < n; k++) out[b * 4 + k] = w[k] >>> 8 >= threshold ? scale : 0;
  }
  return out;
}
