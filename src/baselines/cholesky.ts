// Dense symmetric positive-definite inverse via Cholesky, row-major Float64Array [n, n].
//
// Every inner loop is a dot product over two contiguous rows, so memory is read in
// order; four independent partial sums keep the FP pipeline busy. Cost ~ n^3/2 FMAs.

function checkSquare(fn: string, a: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${fn}: n must be a positive integer, got ${n}`);
  if (!(a instanceof Float64Array) || a.length !== n * n) {
    throw new Error(`${fn}: expected a Float64Array of length n*n = ${n * n}, got length ${a?.length}`);
  }
}

/** sum_{t<len} x[xo+t] * y[yo+t] */
function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): number {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  let t = 0;
  for (; t + 3 < len; t += 4) {
    s0 += x[xo + t] * y[yo + t];
    s1 += x[xo + t + 1] * y[yo + t + 1];
    s2 += x[xo + t + 2] * y[yo + t + 2];
    s3 += x[xo + t + 3] * y[yo + t + 3];
  }
  for (; t < len; t++) s0 += x[xo + t] * y[yo + t];
  return s0 + s1 + (s2 + s3);
}

/** out[r] = sum_{t<len} x[xr+t] * y[yo+t] for r = 0..3: four dots share each load of y. */
function dot4(
  x: Float64Array,
  x0: number,
  x1: number,
  x2: number,
  x3: number,
  y: Float64Array,
  yo: number,
  len: number,
  out: Float64Array,
): void {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  for (let t = 0; t < len; t++) {
    const yt = y[yo + t];
    s0 += x[x0 + t] * yt;
    s1 += x[x1 + t] * yt;
    s2 += x[x2 + t] * yt;
    s3 += x[x3 + t] * yt;
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

/** Rows handled together, so each streamed row is reused from cache by the whole block. */
const BLOCK = 16;

/**
 * Overwrite the lower triangle of symmetric `a` with L, where a = L L^T (the strict
 * upper triangle is set to 0). Throws when `a` is not positive definite.
 */
export function choleskyInPlace(a: Float64Array, n: number): void {
  checkSquare("choleskyInPlace", a, n);
  const acc = new Float64Array(4);
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    // L[i][j] needs L[i][<j]; with j outer, row j is read once for the whole block.
    for (let j = 0; j < i1; j++) {
      const rj = j * n;
      let i = Math.max(i0, j);
      if (j < i0) {
        for (; i + 3 < i1; i += 4) {
          const ri = i * n;
          dot4(a, ri, ri + n, ri + 2 * n, ri + 3 * n, a, rj, j, acc);
          const inv = 1 / a[rj + j];
          for (let r = 0; r < 4; r++) a[ri + r * n + j] = (a[ri + r * n + j] - acc[r]) * inv;
        }
      }
      for (; i < i1; i++) {
        const ri = i * n;
        const s = a[ri + j] - dot(a, ri, a, rj, j);
        if (i > j) {
          a[ri + j] = s / a[rj + j];
          continue;
        }
        if (!(s > 0) || !Number.isFinite(s)) {
          throw new Error(`choleskyInPlace: matrix is not positive definite (pivot ${i} of ${n} is ${s}); ` + "for EASE, increase lambda");
        }
        a[ri + i] = Math.sqrt(s);
        a.fill(0, ri + i + 1, ri + n);
      }
    }
  }
}

/**
 * Inverse of the symmetric positive-definite matrix `a` ([n, n], row-major).
 * `a` is consumed (overwritten) when `overwrite` is true, which saves one n*n buffer.
 */
export function invertSpd(a: Float64Array, n: number, overwrite = false): Float64Array {
  checkSquare("invertSpd", a, n);
  const l = overwrite ? a : Float64Array.from(a);
  choleskyInPlace(l, n);
  // v = (L^-1)^T, upper triangular: row q of v is column q of L^-1, found by forward
  // substitution L x = e_q (x_k = 0 for k < q); k outer so row k of L serves the block.
  const v = new Float64Array(n * n);
  const acc = new Float64Array(4);
  for (let q0 = 0; q0 < n; q0 += BLOCK) {
    const q1 = Math.min(n, q0 + BLOCK);
    for (let k = q0; k < n; k++) {
      const rk = k * n;
      const lkk = l[rk + k];
      let q = q0;
      if (k >= q1) {
        // v[q][m] = 0 for m < q, so every row of the block can start at column q0.
        for (; q + 3 < q1; q += 4) {
          const rq = q * n;
          dot4(v, rq + q0, rq + n + q0, rq + 2 * n + q0, rq + 3 * n + q0, l, rk + q0, k - q0, acc);
          for (let r = 0; r < 4; r++) v[rq + r * n + k] = -acc[r] / lkk;
        }
      }
      for (; q < q1 && q <= k; q++) {
        const rq = q * n;
        v[rq + k] = q === k ? 1 / lkk : -dot(l, rk + q, v, rq + q, k - q) / lkk;
      }
    }
  }
  // a^-1 = L^-T L^-1 = v v^T, symmetric; row b of v serves the whole block of rows q.
  const p = l; // L is no longer needed
  for (let q0 = 0; q0 < n; q0 += BLOCK) {
    const q1 = Math.min(n, q0 + BLOCK);
    for (let b = q0; b < n; b++) {
      const rb = b * n;
      let q = q0;
      if (b >= q1) {
        for (; q + 3 < q1; q += 4) {
          const rq = q * n;
          dot4(v, rq + b, rq + n + b, rq + 2 * n + b, rq + 3 * n + b, v, rb + b, n - b, acc);
          for (let r = 0; r < 4; r++) {
            p[rq + r * n + b] = acc[r];
            p[rb + q + r] = acc[r];
          }
        }
      }
      for (; q < q1 && q <= b; q++) {
        const rq = q * n;
        const s = dot(v, rq + b, v, rb + b, n - b);
        p[rq + b] = s;
        p[rb + q] = s;
      }
    }
  }
  return p;
}
