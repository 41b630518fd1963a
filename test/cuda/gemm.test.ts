// CUDA GEMM against the CPU GEMM: all transposes, odd shapes, batches with strides
// (including 0 = broadcast), bias, alpha/beta, beta == 0 over a NaN output, K == 0.
import { test, after } from "node:test";
import { both, expectClose, freeAll, nat, opt, rng, skipCuda, twinF32, twinFill, uniform, TOL_REDUCTION } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

interface Case {
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  batch: number;
  alpha: number;
  beta: number;
  bias: boolean;
  strideBZero?: boolean;
}

function runCase(c: Case, seed: number): void {
  const rand = rng(seed);
  const sA = c.M * c.K,
    sB = c.strideBZero ? 0 : c.K * c.N,
    sC = c.M * c.N;
  const A = twinF32(uniform(rand, Math.max(1, sA * c.batch)));
  const B = twinF32(uniform(rand, Math.max(1, c.strideBZero ? c.K * c.N : sB * c.batch)));
  // beta == 0: C starts as NaN, which must not leak into the result.
  const C = c.beta === 0 ? twinFill(sC * c.batch, NaN) : twinF32(uniform(rand, sC * c.batch));
  const bias = c.bias ? twinF32(uniform(rand, c.N)) : null;
  both((x) => nat().gemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, x(A), 0, sA, x(B), 0, sB, c.beta, x(C), 0, sC, c.batch, opt(x, bias)));
  const tol = TOL_REDUCTION * Math.max(1, Math.sqrt(c.K) / 4);
  expectClose(C, `gemm ${JSON.stringify(c)}`, TOL_REDUCTION, tol);
}

const shapes: Array<[number, number, number]> = [
  [1, 1, 1],
  [7, 33, 5],
  [33, 7, 1023],
  [65, 130, 17],
  [1, 50, 64],
  [129, 1, 33],
  [64, 64, 16],
];

test("cuda gemm: every transpose combination on odd shapes", { skip: skipCuda }, () => {
  let seed = 1;
  for (const [M, N, K] of shapes)
    for (const tA of [false, true])
      for (const tB of [false, true]) runCase({ tA, tB, M, N, K, batch: 1, alpha: 1, beta: 0, bias: false }, seed++);
});

test("cuda gemm: alpha, beta accumulate and bias", { skip: skipCuda }, () => {
  runCase({ tA: false, tB: true, M: 33, N: 70, K: 31, batch: 1, alpha: 0.5, beta: 1, bias: true }, 11);
  runCase({ tA: true, tB: false, M: 7, N: 9, K: 100, batch: 1, alpha: -2, beta: 0.25, bias: true }, 12);
  runCase({ tA: false, tB: false, M: 70, N: 33, K: 7, batch: 1, alpha: 1, beta: 0, bias: true }, 13);
});

test("cuda gemm: batched with strides, stride 0 broadcasts B", { skip: skipCuda }, () => {
  runCase({ tA: false, tB: true, M: 17, N: 9, K: 33, batch: 5, alpha: 1, beta: 0, bias: false }, 21);
  runCase({ tA: true, tB: false, M: 9, N: 17, K: 8, batch: 3, alpha: 1, beta: 1, bias: true }, 22);
  runCase({ tA: false, tB: false, M: 20, N: 12, K: 40, batch: 4, alpha: 1, beta: 0, bias: false, strideBZero: true }, 23);
});

test("cuda gemm: K == 0 gives beta * C + bias", { skip: skipCuda }, () => {
  runCase({ tA: false, tB: false, M: 5, N: 6, K: 0, batch: 2, alpha: 1, beta: 0.5, bias: true }, 31);
  runCase({ tA: false, tB: false, M: 5, N: 6, K: 0, batch: 1, alpha: 1, beta: 0, bias: false }, 32);
});

test("cuda gemm: element offsets into larger buffers", { skip: skipCuda }, () => {
  const rand = rng(41);
  const M = 9,
    N = 11,
    K = 13,
    offA = 3,
    offB = 5,
    offC = 7;
  const A = twinF32(uniform(rand, offA + M * K)),
    B = twinF32(uniform(rand, offB + K * N));
  const C = twinF32(uniform(rand, offC + M * N + 2));
  both((x) => nat().gemm(false, false, M, N, K, 1, x(A), offA, 0, x(B), offB, 0, 0, x(C), offC, 0, 1, null));
  expectClose(C, "gemm with offsets (prefix and tail untouched)", TOL_REDUCTION);
});
