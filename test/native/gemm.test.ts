// GEMM against a naive float64 reference: every transpose combination, odd shapes,
// block-boundary shapes, batches with broadcast (stride 0), bias, alpha and beta.
// Second half: the skinny shapes of CLLM4Rec training against a naive float64 reference:
// vocabulary logits (NT, huge N, short K; the dot path when M <= 256), their input
// gradient (NN, deep K: split-K), item scores (NT, small M: the dot path), item-embedding
// gradients (TN, huge M, tiny K), a C big enough for the streaming stores, and
// determinism (same bits on repeated runs and for 1 and 2 threads).
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose, f32, freeAll, nat, read, rng, uniform } from "./helpers";

interface Case {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  batch?: number;
  broadcastA?: boolean;
  broadcastB?: boolean;
  alpha?: number;
  beta?: number;
  bias?: boolean;
}

// C[b] = alpha * op(A) op(B) + beta * C0[b] + bias, accumulated in float64.
function reference(
  c: Case,
  A: Float32Array,
  B: Float32Array,
  C0: Float32Array,
  bias: Float32Array | null,
  sA: number,
  sB: number,
): Float64Array {
  const { M, N, K } = c,
    batch = c.batch ?? 1,
    alpha = c.alpha ?? 1,
    beta = c.beta ?? 0;
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
  const sA = c.broadcastA ? 0 : c.M * c.K,
    sB = c.broadcastB ? 0 : c.K * c.N;
  const A = uniform(rand, c.broadcastA ? c.M * c.K : batch * c.M * c.K);
  const B = uniform(rand, c.broadcastB ? c.K * c.N : batch * c.K * c.N);
  const beta = c.beta ?? 0;
  // beta == 0 must ignore C entirely, so fill it with NaN in that case.
  const C0 = beta === 0 ? new Float32Array(batch * c.M * c.N).fill(NaN) : uniform(rand, batch * c.M * c.N);
  const bias = c.bias ? uniform(rand, c.N) : null;
  const Cb = f32(C0);
  nat.gemm(
    c.transA,
    c.transB,
    c.M,
    c.N,
    c.K,
    c.alpha ?? 1,
    f32(A),
    0,
    sA,
    f32(B),
    0,
    sB,
    beta,
    Cb,
    0,
    c.M * c.N,
    batch,
    bias ? f32(bias) : null,
  );
  const tol = 1e-5 * Math.max(1, c.K);
  assertClose(read(Cb), reference(c, A, B, C0, bias, sA, sB), `gemm ${JSON.stringify(c)}`, tol, 1e-4);
  freeAll();
}

const combos: Array<[boolean, boolean]> = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

test("gemm: all transpose combinations on odd shapes", () => {
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1],
    [7, 33, 1],
    [33, 7, 13],
    [1, 1023, 7],
    [1023, 7, 33],
    [13, 65, 1023],
  ];
  let seed = 1;
  for (const [transA, transB] of combos) for (const [M, N, K] of shapes) run({ transA, transB, M, N, K }, seed++);
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
  const M = 5,
    N = 6,
    K = 7;
  const big = uniform(rand, 100 + M * K + K * N);
  const A = big.subarray(10, 10 + M * K),
    B = big.subarray(60, 60 + K * N);
  const buf = f32(big);
  const C = f32(new Float32Array(20 + M * N));
  nat.gemm(false, false, M, N, K, 1, buf, 10, 0, buf, 60, 0, 0, C, 20, 0, 1, null);
  const got = read(C);
  const want = reference({ transA: false, transB: false, M, N, K }, A, B, new Float32Array(M * N), null, 0, 0);
  assertClose(got.subarray(20), want, "gemm offsets");
  assert.deepEqual(Array.from(got.subarray(0, 20)), new Array(20).fill(0), "gemm wrote before offC");
  freeAll();
});

interface SkinnyCase {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha?: number;
  beta?: number;
  bias?: boolean;
}

// op(A) and op(B) as row-major float64 [M, K] and [N, K] (B transposed) so the dot
// products below walk both contiguously: the reference stays fast at these sizes.
function skinnyReference(c: SkinnyCase, A: Float32Array, B: Float32Array, C0: Float32Array, bias: Float32Array | null): Float64Array {
  const { M, N, K } = c,
    alpha = c.alpha ?? 1,
    beta = c.beta ?? 0;
  const a = new Float64Array(M * K),
    bt = new Float64Array(N * K);
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) a[i * K + k] = c.transA ? A[k * M + i] : A[i * K + k];
  for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) bt[j * K + k] = c.transB ? B[j * K + k] : B[k * N + j];
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

interface SkinnyInputs {
  A: Float32Array;
  B: Float32Array;
  C0: Float32Array;
  bias: Float32Array | null;
}

function skinnyInputs(c: SkinnyCase, seed: number): SkinnyInputs {
  const rand = rng(seed);
  const A = uniform(rand, c.M * c.K),
    B = uniform(rand, c.K * c.N);
  // beta == 0 must ignore C entirely, so fill it with NaN in that case.
  const C0 = (c.beta ?? 0) === 0 ? new Float32Array(c.M * c.N).fill(NaN) : uniform(rand, c.M * c.N);
  return { A, B, C0, bias: c.bias ? uniform(rand, c.N) : null };
}

function skinnyGemm(c: SkinnyCase, x: SkinnyInputs): Float32Array {
  const Cb = f32(x.C0);
  nat.gemm(
    c.transA,
    c.transB,
    c.M,
    c.N,
    c.K,
    c.alpha ?? 1,
    f32(x.A),
    0,
    0,
    f32(x.B),
    0,
    0,
    c.beta ?? 0,
    Cb,
    0,
    0,
    1,
    x.bias ? f32(x.bias) : null,
  );
  const out = read(Cb);
  freeAll();
  return out;
}

function skinnyCheck(c: SkinnyCase, seed: number): void {
  const x = skinnyInputs(c, seed);
  const got = skinnyGemm(c, x);
  assertClose(got, skinnyReference(c, x.A, x.B, x.C0, x.bias), `gemm ${JSON.stringify(c)}`, 1e-5 * Math.max(1, Math.sqrt(c.K)) * 4, 1e-4);
}

test("gemm skinny: logits-like NT (huge N, short K) and its small-M variants", () => {
  skinnyCheck({ transA: false, transB: true, M: 7, N: 5003, K: 33 }, 1);
  skinnyCheck({ transA: false, transB: true, M: 3, N: 4001, K: 65 }, 2);
  skinnyCheck({ transA: false, transB: true, M: 61, N: 3001, K: 64, bias: true }, 3);
  skinnyCheck({ transA: false, transB: true, M: 301, N: 3001, K: 64, bias: true }, 4); // packed path
});

test("gemm skinny: small-M dot path (transB, M <= 256, K >= 32), edges, depth tail, depth blocks", () => {
  let seed = 10;
  for (const transA of [false, true]) {
    skinnyCheck({ transA, transB: true, M: 20, N: 1003, K: 300 }, seed++); // K % 16 = 12
    skinnyCheck({ transA, transB: true, M: 3, N: 97, K: 257, alpha: 0.5, beta: 0.75, bias: true }, seed++);
    skinnyCheck({ transA, transB: true, M: 1, N: 7, K: 256, beta: 1 }, seed++);
    skinnyCheck({ transA, transB: true, M: 9, N: 61, K: 32 }, seed++); // the shortest depth it takes
    skinnyCheck({ transA, transB: true, M: 5, N: 50, K: 2100, bias: true }, seed++); // several depth blocks
    skinnyCheck({ transA, transB: true, M: 256, N: 37, K: 260 }, seed++); // the largest M it takes
    skinnyCheck({ transA, transB: true, M: 257, N: 37, K: 260, beta: -1 }, seed++); // the packed path
  }
});

test("gemm skinny: split-K (few output tiles, deep K) in every transpose", () => {
  let seed = 30;
  skinnyCheck({ transA: false, transB: false, M: 33, N: 65, K: 5003, beta: 1 }, seed++);
  skinnyCheck({ transA: false, transB: false, M: 20, N: 300, K: 4500, alpha: -0.5, beta: 0.5, bias: true }, seed++);
  skinnyCheck({ transA: true, transB: false, M: 13, N: 70, K: 3000, bias: true }, seed++);
  skinnyCheck({ transA: false, transB: true, M: 300, N: 20, K: 3000, beta: 1 }, seed++);
  skinnyCheck({ transA: true, transB: true, M: 290, N: 9, K: 2500, alpha: 2 }, seed++);
});

test("gemm skinny: dW-like TN (huge M, tiny K) accumulates", () => {
  skinnyCheck({ transA: true, transB: false, M: 1001, N: 65, K: 3, beta: 1 }, 40);
  skinnyCheck({ transA: true, transB: false, M: 3001, N: 768, K: 20, beta: 1, alpha: 0.25 }, 41);
});

test("gemm skinny: an output large enough for streaming stores", () => {
  // 4100 x 4100 = 16.8M floats: over the streaming threshold (beta == 0).
  skinnyCheck({ transA: false, transB: false, M: 4100, N: 4100, K: 3, bias: true }, 50);
});

test("gemm skinny: bit-identical on repeated runs and for 1 and 2 threads", () => {
  const cases: SkinnyCase[] = [
    { transA: false, transB: false, M: 33, N: 65, K: 5003, beta: 1 }, // split-K
    { transA: false, transB: true, M: 20, N: 2003, K: 1100 }, // dot path
    { transA: false, transB: true, M: 300, N: 1000, K: 64 }, // packed
    { transA: true, transB: false, M: 1001, N: 65, K: 3, beta: 1 }, // packed, tiny K
  ];
  const threads = nat.numThreads();
  try {
    let seed = 60;
    for (const c of cases) {
      const x = skinnyInputs(c, seed++);
      nat.setNumThreads(2);
      const first = skinnyGemm(c, x),
        second = skinnyGemm(c, x);
      nat.setNumThreads(1);
      const single = skinnyGemm(c, x);
      const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
      assert.deepEqual(bits(second), bits(first), `repeat ${JSON.stringify(c)}`);
      assert.deepEqual(bits(single), bits(first), `1 vs 2 threads ${JSON.stringify(c)}`);
    }
  } finally {
    nat.setNumThreads(threads);
  }
});
