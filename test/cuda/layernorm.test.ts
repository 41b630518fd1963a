// CUDA LayerNorm against the CPU LayerNorm: forward statistics and output, backward
// with and without dgamma/dbeta and with dx accumulation; determinism of the backward.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { both, download, expectClose, freeAll, nat, opt, rng, skipCuda, twinF32, twinFill, uniform, TOL_REDUCTION } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

const shapes: Array<[number, number]> = [
  [1, 1],
  [7, 33],
  [33, 768],
  [1023, 7],
  [600, 1023],
];

function setup(R: number, D: number, seed: number) {
  const rand = rng(seed);
  const x = twinF32(uniform(rand, R * D, -3, 5)),
    gamma = twinF32(uniform(rand, D, 0.5, 1.5));
  const beta = twinF32(uniform(rand, D)),
    y = twinFill(R * D, NaN);
  const mean = twinFill(R, NaN),
    rstd = twinFill(R, NaN);
  both((s) => nat().layernormForward(s(x), s(gamma), s(beta), s(y), s(mean), s(rstd), R, D, 1e-5));
  return { rand, x, gamma, beta, y, mean, rstd };
}

test("cuda layernorm forward", { skip: skipCuda }, () => {
  let seed = 1;
  for (const [R, D] of shapes) {
    const t = setup(R, D, seed++);
    expectClose(t.y, `ln y ${R}x${D}`, TOL_REDUCTION);
    expectClose(t.mean, `ln mean ${R}x${D}`, TOL_REDUCTION);
    expectClose(t.rstd, `ln rstd ${R}x${D}`, TOL_REDUCTION);
  }
});

test("cuda layernorm backward: dx (+=), dgamma and dbeta (+=), nullable", { skip: skipCuda }, () => {
  let seed = 10;
  for (const [R, D] of shapes) {
    const t = setup(R, D, seed++);
    const dy = twinF32(uniform(t.rand, R * D));
    const dx = twinFill(R * D, NaN),
      dgamma = twinF32(uniform(t.rand, D)),
      dbeta = twinF32(uniform(t.rand, D));
    both((s) => nat().layernormBackward(s(dy), s(t.x), s(t.gamma), s(t.mean), s(t.rstd), s(dx), s(dgamma), s(dbeta), R, D, false));
    expectClose(dx, `ln dx ${R}x${D}`, TOL_REDUCTION);
    expectClose(dgamma, `ln dgamma ${R}x${D}`, TOL_REDUCTION);
    expectClose(dbeta, `ln dbeta ${R}x${D}`, TOL_REDUCTION);
    // Frozen LayerNorm: only dx, accumulated.
    both((s) => nat().layernormBackward(s(dy), s(t.x), s(t.gamma), s(t.mean), s(t.rstd), s(dx), null, null, R, D, true));
    expectClose(dx, `ln dx acc ${R}x${D}`, TOL_REDUCTION);
    // Only the parameter gradients.
    const dg2 = twinFill(D, 0);
    both((s) => nat().layernormBackward(s(dy), s(t.x), s(t.gamma), s(t.mean), s(t.rstd), null, s(dg2), opt(s, null), R, D, false));
    expectClose(dg2, `ln dgamma only ${R}x${D}`, TOL_REDUCTION);
  }
});

test("cuda layernorm backward is deterministic (identical bits across runs)", { skip: skipCuda }, () => {
  const R = 3000,
    D = 257;
  const t = setup(R, D, 99);
  const dy = twinF32(uniform(t.rand, R * D, -10, 10));
  const runs: Float32Array[][] = [];
  for (let k = 0; k < 3; k++) {
    const dx = twinFill(R * D, 0),
      dg = twinFill(D, 0),
      db = twinFill(D, 0);
    nat().layernormBackward(dy.gpu, t.x.gpu, t.gamma.gpu, t.mean.gpu, t.rstd.gpu, dx.gpu, dg.gpu, db.gpu, R, D, false);
    runs.push([download(dx.gpu) as Float32Array, download(dg.gpu) as Float32Array, download(db.gpu) as Float32Array]);
  }
  for (let k = 1; k < runs.length; k++)
    for (let o = 0; o < 3; o++) assert.deepEqual(runs[k][o], runs[0][o], `run ${k} output ${["dx", "dgamma", "dbeta"][o]} differs`);
});
