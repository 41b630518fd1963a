// GEMM against a naive float64 reference: every transpose combination, odd shapes,
// block-boundary shapes, batches with broadcast (stride 0), bias, alpha and beta.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose, f32, freeAll, nat, read, rng, uniform } from "./helpers";

interface Case {
  transA: boolean; transB: boolean; M: number; N: number; K: number;
  batch?: number; broadcastA?: boolean; broadcastB?: boolean;
  alpha?: number; beta?: number; bias?: boolean;
}

// C[b] = alpha * op(A) op(B) + beta * C0[b] + bias, accumulated in float64.
function reference(c: Case, A: Float32Array, B: Float32Array, C0: Float32Array, bias: Float32Array | null,
  sA: number, sB: number): Float64Array {
  const { M, N, K } = c, batch = c.batch ?? 1, alpha = c.alpha ?? 1, beta = c.beta ?? 0;
  const out = new Float64Array(batch * M * N);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const a = c.transA ? A[b * sA + k * M + i] : A[b * sA + i * K + k];
          const bb = c.transB ? B[b * sB + j * K + k] : B[b * sB + k * N + j];
          s += a * bb;
        }
        const idx = b * M * N + i * N + j;
        out[idx] = alpha * s + (beta !== 0 ? beta * C0[idx] : 0) + (bias ? bias[j] : 0);
      }
    }
  }
  return out;
}

function run(c: Case, seed: number): void {
  const rand = rng(seed);
  const batch = c.batch ?? 1;
  const sA = c.broadcastA ? 0 : c.M * c.K, sB = c.broadcastB ? 0 : c.K * c.N;
  const A = uniform(rand, c.broadcastA ? c.M * c.K : batch * c.M * c.K);
  const B = uniform(rand, c.broadcastB ? c.K * c.N : batch * c.K * c.N);
  const beta = c.beta ?? 0;
  // beta == 0 must ignore C entirely, so fill it with NaN in that case.
  const C0 = beta === 0 ? new Float32Array(batch * c.M * c.N).fill(NaN) : uniform(rand, batch * c.M * c.N);
  const bias = c.bias ? uniform(rand, c.N) : null;
  const Cb = f32(C0);
  nat.gemm(c.transA, c.transB, c.M, c.N, c.K, c.alpha ?? 1, f32(A), 0, sA, f32(B), 0, sB,
    beta, Cb, 0, c.M * c.N, batch, bias ? f32(bias) : null);
  const tol = 1e-5 * Math.max(1, c.K);
  assertClose(read(Cb), reference(c, A, B, C0, bias, sA, sB), `gemm ${JSON.stringify(c)}`, tol, 1e-4);
  freeAll();
}

const combos: Array<[boolean, boolean]> = [[false, false], [false, true], [true, false], [true, true]];

test("gemm: all transpose combinations on odd shapes", () => {
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1], [7, 33, 1], [33, 7, 13], [1, 1023, 7], [1023, 7, 33], [13, 65, 1023],
  ];
  let seed = 1;
  for (const [transA, transB] of combos)
    for (const [M, N, K] of shapes) run({ transA, transB, M, N, K }, seed++);
});

test("gemm: shapes crossing every cache block (rows, column chunks, depth)", () => {
  let seed = 100;
  for (const [transA, transB] of combos) run({ transA, transB, M: 151, N: 290, K: 517 }, seed++);
  // packed B larger than one slab (K*N > 8M floats): several column slabs
  run({ transA: false, transB: true, M: 3, N: 8200, K: 1030 }, seed++);
  run({ transA: true, transB: false, M: 3, N: 8200, K: 1030, beta: 0.5, bias: true }, seed++);
});

test("gemm: alpha, beta accumulate and bias", () => {
  let seed = 200;
  for (const [transA, transB] of combos) {
    run({ transA, transB, M: 33, N: 47, K: 19, alpha: 0.5, beta: 0.75, bias: true }, seed++);
    run({ transA, transB, M: 12, N: 32, K: 300, alpha: -2, beta: 1, bias: false }, seed++);
    run({ transA, transB, M: 5, N: 3, K: 7, alpha: 1, beta: 0, bias: true }, seed++);
  }
});

test("gemm: batched with stride-0 broadcast of A or B", () => {
  let seed = 300;
  for (const [transA, transB] of combos) {
    run({ transA, transB, M: 7, N: 9, K: 33, batch: 3 }, seed++);
    run({ transA, transB, M: 7, N: 9, K: 33, batch: 4, broadcastA: true, beta: 0.5, bias: true }, seed++);
    run({ transA, transB, M: 13, N: 40, K: 5, batch: 2, broadcastB: true }, seed++);
  }
});

test("gemm: K = 0 gives beta * C + bias", () => {
  run({ transA: false, transB: false, M: 4, N: 5, K: 0, beta: 0.5, bias: true }, 400);
  run({ transA: true, transB: true, M: 4, N: 5, K: 0, beta: 0, bias: true }, 401);
});

test("gemm: element offsets address sub-blocks of larger buffers", () => {
  const rand = rng(500);
  const M = 5, N = 6, K = 7;
  const big = uniform(rand, 100 + M * K + K * N);
  const A = big.subarray(10, 10 + M * K), B = big.subarray(60, 60 + K * N);
  const buf = f32(big);
  const C = f32(new Float32Array(20 + M * N));
  nat.gemm(false, false, M, N, K, 1, buf, 10, 0, buf, 60, 0, 0, C, 20, 0, 1, null);
  const got = read(C);
  const want = reference({ transA: false, transB: false, M, N, K }, A, B, new Float32Array(M * N), null, 0, 0);
  assertClose(got.subarray(20), want, "gemm offsets");
  assert.deepEqual(Array.from(got.subarray(0, 20)), new Array(20).fill(0), "gemm wrote before offC");
  freeAll();
});
