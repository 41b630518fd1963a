// GEMM at the skinny shapes of CLLM4Rec training, against a naive float64 reference:
// vocabulary logits (NT, huge N, short K; the dot path when M <= 256), their input
// gradient (NN, deep K: split-K), item scores (NT, small M: the dot path), item-embedding
// gradients (TN, huge M, tiny K), a C big enough for the streaming stores, and
// determinism (same bits on repeated runs and for 1 and 2 threads).
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose, f32, freeAll, nat, read, rng, uniform } from "./helpers";

interface Case {
  transA: boolean; transB: boolean; M: number; N: number; K: number;
  alpha?: number; beta?: number; bias?: boolean;
}

// op(A) and op(B) as row-major float64 [M, K] and [N, K] (B transposed) so the dot
// products below walk both contiguously: the reference stays fast at these sizes.
function reference(c: Case, A: Float32Array, B: Float32Array, C0: Float32Array,
  bias: Float32Array | null): Float64Array {
  const { M, N, K } = c, alpha = c.alpha ?? 1, beta = c.beta ?? 0;
  const a = new Float64Array(M * K), bt = new Float64Array(N * K);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) a[i * K + k] = c.transA ? A[k * M + i] : A[i * K + k];
  for (let j = 0; j < N; j++)
    for (let k = 0; k < K; k++) bt[j * K + k] = c.transB ? B[j * K + k] : B[k * N + j];
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0, ai = i * K, bj = j * K; k < K; k++) s += a[ai + k] * bt[bj + k];
      out[i * N + j] = alpha * s + (beta !== 0 ? beta * C0[i * N + j] : 0) + (bias ? bias[j] : 0);
    }
  }
  return out;
}

interface Inputs { A: Float32Array; B: Float32Array; C0: Float32Array; bias: Float32Array | null }

function inputs(c: Case, seed: number): Inputs {
  const rand = rng(seed);
  const A = uniform(rand, c.M * c.K), B = uniform(rand, c.K * c.N);
  // beta == 0 must ignore C entirely, so fill it with NaN in that case.
  const C0 = (c.beta ?? 0) === 0 ? new Float32Array(c.M * c.N).fill(NaN) : uniform(rand, c.M * c.N);
  return { A, B, C0, bias: c.bias ? uniform(rand, c.N) : null };
}

function gemm(c: Case, x: Inputs): Float32Array {
  const Cb = f32(x.C0);
  nat.gemm(c.transA, c.transB, c.M, c.N, c.K, c.alpha ?? 1, f32(x.A), 0, 0, f32(x.B), 0, 0,
    c.beta ?? 0, Cb, 0, 0, 1, x.bias ? f32(x.bias) : null);
  const out = read(Cb);
  freeAll();
  return out;
}

function check(c: Case, seed: number): void {
  const x = inputs(c, seed);
  const got = gemm(c, x);
  assertClose(got, reference(c, x.A, x.B, x.C0, x.bias), `gemm ${JSON.stringify(c)}`,
    1e-5 * Math.max(1, Math.sqrt(c.K)) * 4, 1e-4);
}

test("gemm skinny: logits-like NT (huge N, short K) and its small-M variants", () => {
  check({ transA: false, transB: true, M: 7, N: 5003, K: 33 }, 1);
  check({ transA: false, transB: true, M: 3, N: 4001, K: 65 }, 2);
  check({ transA: false, transB: true, M: 61, N: 3001, K: 64, bias: true }, 3);
  check({ transA: false, transB: true, M: 301, N: 3001, K: 64, bias: true }, 4);  // packed path
});

test("gemm skinny: small-M dot path (transB, M <= 256, K >= 32), edges, depth tail, depth blocks", () => {
  let seed = 10;
  for (const transA of [false, true]) {
    check({ transA, transB: true, M: 20, N: 1003, K: 300 }, seed++);  // K % 16 = 12
    check({ transA, transB: true, M: 3, N: 97, K: 257, alpha: 0.5, beta: 0.75, bias: true }, seed++);
    check({ transA, transB: true, M: 1, N: 7, K: 256, beta: 1 }, seed++);
    check({ transA, transB: true, M: 9, N: 61, K: 32 }, seed++);  // the shortest depth it takes
    check({ transA, transB: true, M: 5, N: 50, K: 2100, bias: true }, seed++);  // several depth blocks
    check({ transA, transB: true, M: 256, N: 37, K: 260 }, seed++);  // the largest M it takes
    check({ transA, transB: true, M: 257, N: 37, K: 260, beta: -1 }, seed++);  // the packed path
  }
});

test("gemm skinny: split-K (few output tiles, deep K) in every transpose", () => {
  let seed = 30;
  check({ transA: false, transB: false, M: 33, N: 65, K: 5003, beta: 1 }, seed++);
  check({ transA: false, transB: false, M: 20, N: 300, K: 4500, alpha: -0.5, beta: 0.5, bias: true }, seed++);
  check({ transA: true, transB: false, M: 13, N: 70, K: 3000, bias: true }, seed++);
  check({ transA: false, transB: true, M: 300, N: 20, K: 3000, beta: 1 }, seed++);
  check({ transA: true, transB: true, M: 290, N: 9, K: 2500, alpha: 2 }, seed++);
});

test("gemm skinny: dW-like TN (huge M, tiny K) accumulates", () => {
  check({ transA: true, transB: false, M: 1001, N: 65, K: 3, beta: 1 }, 40);
  check({ transA: true, transB: false, M: 3001, N: 768, K: 20, beta: 1, alpha: 0.25 }, 41);
});

test("gemm skinny: an output large enough for streaming stores", () => {
  // 4100 x 4100 = 16.8M floats: over the streaming threshold (beta == 0).
  check({ transA: false, transB: false, M: 4100, N: 4100, K: 3, bias: true }, 50);
});

test("gemm skinny: bit-identical on repeated runs and for 1 and 2 threads", () => {
  const cases: Case[] = [
    { transA: false, transB: false, M: 33, N: 65, K: 5003, beta: 1 },  // split-K
    { transA: false, transB: true, M: 20, N: 2003, K: 1100 },            // dot path
    { transA: false, transB: true, M: 300, N: 1000, K: 64 },             // packed
    { transA: true, transB: false, M: 1001, N: 65, K: 3, beta: 1 },      // packed, tiny K
  ];
  const threads = nat.numThreads();
  try {
    let seed = 60;
    for (const c of cases) {
      const x = inputs(c, seed++);
      nat.setNumThreads(2);
      const first = gemm(c, x), second = gemm(c, x);
      nat.setNumThreads(1);
      const single = gemm(c, x);
      const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
      assert.deepEqual(bits(second), bits(first), `repeat ${JSON.stringify(c)}`);
      assert.deepEqual(bits(single), bits(first), `1 vs 2 threads ${JSON.stringify(c)}`);
    }
  } finally {
    nat.setNumThreads(threads);
  }
});
