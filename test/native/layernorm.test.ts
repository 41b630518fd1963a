// LayerNorm: forward against a float64 reference, backward against finite differences
// of it.
import { test } from "node:test";
import { assertClose, dotF64, f32, freeAll, nat, numericGrad, read, rng, uniform, zeros } from "./helpers";

function layernorm64(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  R: number,
  D: number,
  eps: number,
): Float64Array {
  const y = new Float64Array(R * D);
  for (let r = 0; r < R; r++) {
    let mu = 0;
    for (let i = 0; i < D; i++) mu += x[r * D + i];
    mu /= D;
    let v = 0;
    for (let i = 0; i < D; i++) v += (x[r * D + i] - mu) ** 2;
    const rs = 1 / Math.sqrt(v / D + eps);
    for (let i = 0; i < D; i++) y[r * D + i] = (x[r * D + i] - mu) * rs * gamma[i] + beta[i];
  }
  return y;
}

test("layernorm: forward (y, mean, rstd) against float64", () => {
  const rand = rng(11);
  for (const [R, D] of [
    [1, 1],
    [7, 33],
    [33, 768],
    [3, 1023],
  ]) {
    const x = uniform(rand, R * D, -3, 3),
      gamma = uniform(rand, D),
      beta = uniform(rand, D);
    const y = zeros(R * D),
      mean = zeros(R),
      rstd = zeros(R);
    nat.layernormForward(f32(x), f32(gamma), f32(beta), y, mean, rstd, R, D, 1e-5);
    assertClose(read(y), layernorm64(x, gamma, beta, R, D, 1e-5), `layernorm y ${R}x${D}`, 1e-4, 1e-4);
    const mu = new Float64Array(R);
    for (let r = 0; r < R; r++) for (let i = 0; i < D; i++) mu[r] += x[r * D + i] / D;
    assertClose(read(mean), mu, `layernorm mean ${R}x${D}`, 1e-6);
  }
  freeAll();
});

test("layernorm: backward dx, dgamma, dbeta against finite differences", () => {
  const rand = rng(12);
  const eps = 1e-5;
  for (const [R, D] of [
    [1, 7],
    [7, 33],
    [3, 64],
  ]) {
    const x = uniform(rand, R * D, -2, 2),
      gamma = uniform(rand, D),
      beta = uniform(rand, D);
    const w = uniform(rand, R * D);
    const y = zeros(R * D),
      mean = zeros(R),
      rstd = zeros(R);
    const xb = f32(x),
      gb = f32(gamma);
    nat.layernormForward(xb, gb, f32(beta), y, mean, rstd, R, D, eps);
    const dx0 = uniform(rand, R * D),
      dg0 = uniform(rand, D),
      db0 = uniform(rand, D);
    const dx = f32(dx0),
      dg = f32(dg0),
      db = f32(db0);
    nat.layernormBackward(f32(w), xb, gb, mean, rstd, dx, dg, db, R, D, true);
    const gx = numericGrad((v) => dotF64(w, layernorm64(v, gamma, beta, R, D, eps)), x);
    const gg = numericGrad((v) => dotF64(w, layernorm64(x, v, beta, R, D, eps)), gamma);
    const gbeta = numericGrad((v) => dotF64(w, layernorm64(x, gamma, v, R, D, eps)), beta);
    assertClose(
      read(dx),
      Array.from(gx, (v, i) => v + dx0[i]),
      `layernorm dx ${R}x${D}`,
      2e-4,
      1e-3,
    );
    assertClose(
      read(dg),
      Array.from(gg, (v, i) => v + dg0[i]),
      `layernorm dgamma ${R}x${D}`,
      2e-4,
      1e-3,
    );
    assertClose(
      read(db),
      Array.from(gbeta, (v, i) => v + db0[i]),
      `layernorm dbeta ${R}x${D}`,
      2e-4,
      1e-3,
    );
    // Frozen LayerNorm: dgamma/dbeta null, dx overwritten.
    const dx2 = f32(dx0);
    nat.layernormBackward(f32(w), xb, gb, mean, rstd, dx2, null, null, R, D, false);
    assertClose(read(dx2), gx, `layernorm dx only ${R}x${D}`, 2e-4, 1e-3);
  }
  freeAll();
});
