// Shared helpers for the native kernel tests: seeded random data, buffer upload and
// download, float64 comparisons and central finite differences.
import assert from "node:assert/strict";
import { native, type NativeAddon, type NativeBuffer } from "../../src/engine/native";

export const nat: NativeAddon = native();

/** Deterministic uniform [0, 1) generator (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [lo, hi), rounded to float32 so references see the same inputs. */
export function uniform(rand: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}

/** Buffers made through these helpers are tracked so a test can free them all. */
const live: NativeBuffer[] = [];

export function f32(data: ArrayLike<number>): NativeBuffer {
  const buf = nat.alloc(0, 0, data.length);
  nat.upload(buf, Float32Array.from(data));
  live.push(buf);
  return buf;
}

export function i32(data: ArrayLike<number>): NativeBuffer {
  const buf = nat.alloc(0, 1, data.length);
  nat.upload(buf, Int32Array.from(data));
  live.push(buf);
  return buf;
}

export function zeros(n: number): NativeBuffer {
  const buf = nat.alloc(0, 0, n);
  live.push(buf);
  return buf;
}

export function read(buf: NativeBuffer): Float32Array {
  const out = new Float32Array(nat.numel(buf));
  nat.download(buf, out);
  return out;
}

export function freeAll(): void {
  for (const b of live.splice(0)) nat.free(b);
}

/** |a - e| <= atol + rtol * |e| elementwise; NaN only where expected is NaN. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol = 1e-5, rtol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = -1,
    worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i],
      e = expected[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      assert.ok(Number.isNaN(a) && Number.isNaN(e), `${what}[${i}]: got ${a}, expected ${e}`);
      continue;
    }
    if (a === e) continue; // covers matching infinities
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (err > worstErr) {
      worstErr = err;
      worst = i;
    }
  }
  if (worst >= 0) {
    assert.fail(`${what}[${worst}]: got ${actual[worst]}, expected ${expected[worst]} ` + `(atol ${atol}, rtol ${rtol})`);
  }
}

/** Central finite-difference gradient of a float64 scalar function at x. */
export function numericGrad(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-6): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + h;
    const up = f(x);
    x[i] = keep - h;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** sum_i w[i] * y[i] in float64: the scalar whose gradient a backward kernel returns. */
export function dotF64(w: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i] * y[i];
  return s;
}

/** log Σ exp(x[off .. off+C)) in float64, max-shifted: the reference for both softmax losses. */
export function lse64(x: ArrayLike<number>, off: number, C: number): number {
  let mx = -Infinity;
  for (let c = 0; c < C; c++) mx = Math.max(mx, x[off + c]);
  let s = 0;
  for (let c = 0; c < C; c++) s += Math.exp(x[off + c] - mx);
  return mx + Math.log(s);
}
