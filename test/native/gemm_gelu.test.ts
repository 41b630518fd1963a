// linear -> GELU in one GEMM (gemmGelu, gemmBf16BGelu) on the CPU, the reference of the CUDA
// epilogue: pre and out bit for bit those of the two kernels unfused (gemm then geluForward),
// against a float64 GELU(A B + bias), and bad arguments named.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { f32, zeros, nat, freeAll, uniform, rng, read, assertClose } from "./helpers";

after(freeAll);

const gelu64 = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

function identical(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

// [M, N, K]: one element, odd edges, a GPT-2 c_fc-like aspect (N = 4K), deep K
const shapes: Array<[number, number, number]> = [
  [1, 1, 1],
  [7, 13, 5],
  [33, 256, 64],
  [5, 40, 700],
];

test("gemmGelu: pre = A B + bias and out = gelu(pre), bit for bit as gemm then geluForward", () => {
  shapes.forEach(([M, N, K], s) => {
    for (const withBias of [true, false]) {
      const rand = rng(40 + s);
      const a = uniform(rand, M * K, -2, 2),
        b = uniform(rand, K * N, -0.5, 0.5),
        bias = uniform(rand, N);
      const A = f32(a),
        B = f32(b),
        bi = withBias ? f32(bias) : null;
      const pre = zeros(M * N),
        out = zeros(M * N);
      nat.gemmGelu(M, N, K, A, B, bi, pre, out);
      const preRef = zeros(M * N),
        outRef = zeros(M * N);
      nat.gemm(false, false, M, N, K, 1, A, 0, 0, B, 0, 0, 0, preRef, 0, 0, 1, bi);
      nat.geluForward(preRef, outRef, M * N);
      const what = `gemmGelu ${M}x${N}x${K} bias=${withBias}`;
      identical(read(pre), read(preRef), `${what} pre`);
      identical(read(out), read(outRef), `${what} out`);
      // against float64: the GEMM to fp32 summation error, GELU's own error below 1e-6
      const want = new Float64Array(M * N);
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) {
          let v = withBias ? bias[n] : 0;
          for (let k = 0; k < K; k++) v += a[m * K + k] * b[k * N + n];
          want[m * N + n] = gelu64(v);
        }
      assertClose(read(out), want, `${what} out vs float64`, 1e-4, 1e-4);
    }
  });
});

test("gemmBf16BGelu: the BF16-weight twin, bit for bit as gemmBf16B then geluForward", () => {
  shapes.forEach(([M, N, K], s) => {
    const rand = rng(50 + s);
    const A = f32(uniform(rand, M * K, -2, 2)),
      bias = f32(uniform(rand, N));
    const Bh = nat.alloc(0, 1, Math.ceil((K * N) / 2));
    nat.f32ToBf16(f32(uniform(rand, K * N, -0.5, 0.5)), K * N, Bh);
    const pre = zeros(M * N),
      out = zeros(M * N),
      preRef = zeros(M * N),
      outRef = zeros(M * N);
    nat.gemmBf16BGelu(M, N, K, A, Bh, bias, pre, out);
    nat.gemmBf16B(false, false, M, N, K, 1, A, 0, Bh, 0, preRef, 0, bias);
    nat.geluForward(preRef, outRef, M * N);
    identical(read(pre), read(preRef), `gemmBf16BGelu ${M}x${N}x${K} pre`);
    identical(read(out), read(outRef), `gemmBf16BGelu ${M}x${N}x${K} out`);
    nat.free(Bh);
  });
});

test("gemmGelu and gemmBf16BGelu name bad shapes and overlapping outputs", () => {
  const A = f32(new Float32Array(6)),
    B = f32(new Float32Array(6)),
    pre = zeros(4),
    out = zeros(4);
  assert.throws(() => nat.gemmGelu(2, 2, 3, A, B, null, zeros(3), out), /gemmGelu: pre needs elements \[0, 4\) but has only 3/);
  assert.throws(() => nat.gemmGelu(2, 2, 3, A, B, null, pre, pre), /gemmGelu: out and pre overlap/);
  assert.throws(() => nat.gemmGelu(2, 2, 3, A, B, null, A, out), /gemmGelu: pre and A overlap/);
  const Bh = nat.alloc(0, 1, 2);
  assert.throws(() => nat.gemmBf16BGelu(2, 2, 3, A, Bh, null, pre, out), /gemmBf16BGelu: Bh needs elements \[0, 3\)/);
  nat.free(Bh);
});
