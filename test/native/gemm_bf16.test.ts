// The BF16 GEMM (AVX512_BF16, fp32 accumulation) against a float64 reference over the
// same BF16-rounded inputs, so the check is tight (fp32 accumulation error only), and
// against the fp32 inputs with the documented BF16 tolerance. Skips where the CPU lacks
// AVX512_BF16; there gemmBf16 must be a clear error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { f32, i32, zeros, nat, freeAll, uniform, rng, read } from "./helpers";

const toBf16 = (x: number): number => {
  const f = new Float32Array([x]),
    u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000; // round to nearest even
  return f[0];
};

function reference(
  A: Float32Array,
  B: Float32Array,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  round: boolean,
  bias: Float32Array | null,
) {
  const a = round ? A.map(toBf16) : A,
    b = round ? B.map(toBf16) : B;
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (transA ? a[k * M + i] : a[i * K + k]) * (transB ? b[j * K + k] : b[k * N + j]);
      C[i * N + j] = s + (bias ? bias[j] : 0);
    }
  return C;
}

const SHAPES: [number, number, number, boolean, boolean][] = [
  [5, 7, 3, false, false],
  [37, 101, 67, false, true],
  [150, 64, 1100, true, false],
  [13, 40, 32, true, true],
  [150, 70, 1100, false, false], // even depth blocks (512, 512, 76): the vectorised row packer
  [29, 33, 38, false, true],
  // several column chunks per row block (at 1 or 2 threads): A is packed once for all of
  // them, a block per (row block, depth block)
  [150, 600, 600, false, false],
  [160, 520, 1025, true, true], // odd last depth block (the scalar packer), two row blocks
];

for (const [M, N, K, tA, tB] of SHAPES) {
  test(`gemmBf16 ${M}x${N}x${K} transA=${tA} transB=${tB}: exact over BF16 inputs, 1e-2 of fp32`, (t) => {
    if (!nat.bf16Supported()) {
      t.skip("no AVX512_BF16 on this CPU");
      return;
    }
    const A = uniform(rng(M + K), M * K),
      B = uniform(rng(N + 3), K * N),
      bias = uniform(rng(9), N);
    const packed = nat.alloc(0, 1, nat.bf16PackedWords(K, N));
    nat.bf16PackB(tB, f32(B), K, N, packed);
    const C = f32(new Float32Array(M * N).fill(0.5));
    nat.gemmBf16(tA, M, N, K, 1, f32(A), 0, packed, 1, C, 0, f32(bias)); // beta 1: C = 0.5 + A B + bias
    const got = read(C);
    const exact = reference(A, B, M, N, K, tA, tB, true, bias);
    const fp32 = reference(A, B, M, N, K, tA, tB, false, bias);
    let num = 0,
      den = 0;
    for (let i = 0; i < M * N; i++) {
      assert.ok(
        Math.abs(got[i] - 0.5 - exact[i]) <= 1e-5 * (1 + Math.sqrt(K)),
        `C[${i}] ${got[i] - 0.5} vs ${exact[i]} (BF16-rounded inputs)`,
      );
      num += (got[i] - 0.5 - fp32[i]) ** 2;
      den += fp32[i] ** 2;
    }
    // the documented tolerance vs fp32: relative RMS error of a BF16 GEMM below 1e-2
    assert.ok(Math.sqrt(num / den) < 1e-2, `relative RMS vs fp32 ${Math.sqrt(num / den)}`);
    nat.free(packed);
    freeAll();
  });
}

test("gemmBf16: the vectorised row packer (A [M, K]) rounds bit for bit as the scalar one (A^T)", (t) => {
  if (!nat.bf16Supported()) {
    t.skip("no AVX512_BF16 on this CPU");
    return;
  }
  const M = 40,
    N = 64,
    K = 1060; // depth blocks 512, 512, 36: full 16-float runs and a 4-float tail
  const A = uniform(rng(77), M * K);
  const bits = new Uint32Array(A.buffer);
  // ties to even both ways, values just past a tie, denormals, +-0 everywhere but rows 0-1, which
  // take the infinities and NaNs (quiet, signalling); a NaN or Inf makes its whole row of C non-finite
  const finite = [0x3f808000, 0x3f818000, 0xbf818000, 0x3f808001, 0x00000001, 0x007fffff, 0x80400000, 0x80000000];
  const nonFinite = [0x7f800000, 0xff800000, 0x7fc00001, 0x7f800001, 0xff812345];
  for (let i = 0; i < 2000; i++) bits[2 * K + ((i * 7919) % ((M - 2) * K))] = finite[i % finite.length];
  for (let i = 0; i < nonFinite.length; i++) bits[(i % 2) * K + 16 * i + 3] = nonFinite[i];
  const At = new Float32Array(M * K); // A^T [K, M]: packed by the scalar path
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) At[k * M + i] = A[i * K + k];
  const B = uniform(rng(5), K * N);
  const packed = nat.alloc(0, 1, nat.bf16PackedWords(K, N));
  nat.bf16PackB(false, f32(B), K, N, packed);
  const rowsPath = zeros(M * N),
    scalarPath = zeros(M * N);
  nat.gemmBf16(false, M, N, K, 1, f32(A), 0, packed, 0, rowsPath, 0, null);
  nat.gemmBf16(true, M, N, K, 1, f32(At), 0, packed, 0, scalarPath, 0, null);
  const a = new Uint32Array(read(rowsPath).buffer),
    b = new Uint32Array(read(scalarPath).buffer);
  for (let i = 0; i < M * N; i++) assert.equal(a[i], b[i], `C[${i}]: bits ${a[i].toString(16)} vs ${b[i].toString(16)}`);
  nat.free(packed);
  freeAll();
});

test("gemmBf16 checks its arguments (and fails clearly without AVX512_BF16)", () => {
  const A = f32(new Float32Array(12)),
    C = zeros(12);
  const packed = i32(new Int32Array(4));
  assert.throws(
    () => nat.gemmBf16(false, 3, 4, 4, 1, A, 0, packed, 0, C, 0, null),
    nat.bf16Supported() ? /gemmBf16: Bp needs elements/ : /gemmBf16: this CPU has no AVX512_BF16/,
  );
  freeAll();
});

test("fmaPeak measures a positive fp32 peak; BF16 is 0 exactly when unsupported", () => {
  const fp = nat.fmaPeak(0, 0.05),
    bf = nat.fmaPeak(1, 0.05);
  assert.ok(fp.flops > 1e8, `fp32 peak ${fp.flops}`);
  assert.ok([4, 8, 16].includes(fp.lanes) || fp.flops === 0);
  assert.equal(bf.flops > 0, nat.bf16Supported());
  assert.throws(() => nat.fmaPeak(2 as 0, 0.1), /fmaPeak: kind must be 0/);
});
