// The per-element error bound of a TF32 / BF16 tensor-core GEMM against the FP32 CPU GEMM
// (test/cuda/gemm_versions.test.ts, gemm_bf16_b.test.ts): each operand rounded to `bits`
// mantissa bits gives a product a relative error <= 2^-bits; FP32 accumulation in any
// order adds (K + 2) * 2^-23 of the same sum of |a||b|.
import assert from "node:assert/strict";
import { download, type Twin } from "./twin";

export interface GemmCase {
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
}

/** bound[m*N+n] for C = alpha op(A) op(B) + beta C0 + bias; 2^-bits bounds a product's
 *  relative rounding error to first order: bits = 10 (TF32, u = 2^-11) or 7 (BF16, u = 2^-8). */
export function tf32Bound(
  c: GemmCase,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  c0: ArrayLike<number> | null,
  bias: ArrayLike<number> | null,
  bits = 10,
): Float64Array {
  const { M, N, K } = c;
  const rel = 2 ** -bits + 2 ** (-2 * bits) + (K + 2) * 2 ** -23;
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const av = c.tA ? a[k * M + m] : a[m * K + k];
        const bv = c.tB ? b[n * K + k] : b[k * N + n];
        s += Math.abs(av * bv);
      }
      const rest = (c0 ? Math.abs(c.beta * c0[m * N + n]) : 0) + (bias ? Math.abs(bias[n]) : 0);
      out[m * N + n] = Math.abs(c.alpha) * rel * s + 1e-6 * (1 + rest);
    }
  return out;
}

/** |gpu - cpu| <= bound elementwise; reports the worst element. NaN must match. */
export function expectWithin(t: Twin, what: string, bound: Float64Array): void {
  const c = download(t.cpu),
    g = download(t.gpu);
  assert.equal(g.length, c.length, `${what}: length`);
  assert.equal(bound.length, c.length, `${what}: bound length`);
  let worst = -1,
    worstRatio = 1;
  for (let i = 0; i < c.length; i++) {
    if (Number.isNaN(c[i]) || Number.isNaN(g[i])) {
      assert.ok(Number.isNaN(c[i]) && Number.isNaN(g[i]), `${what}[${i}]: gpu ${g[i]}, cpu ${c[i]}`);
      continue;
    }
    if (g[i] === c[i]) continue;
    const r = Math.abs(g[i] - c[i]) / bound[i];
    if (!(r <= worstRatio)) {
      worstRatio = r;
      worst = i;
    }
  }
  if (worst >= 0)
    assert.fail(`${what}[${worst}]: gpu ${g[worst]}, cpu ${c[worst]}, |diff| ${Math.abs(g[worst] - c[worst])} > bound ${bound[worst]}`);
}
