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
  const r = round ? toBf16 : (x: number) => x;
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += r(transA ? A[k * M + i] : A[i * K + k]) * r(transB ? B[j * K + k] : B[k * N + j]);
      C[i * N + j] = s + (bias ? bias[j] : 0);
    }
  return C;
}

const SHAPES: [number, number, number, boolean, boolean][] = [
  [5, 7, 3, false, false],
  [37, 101, 67, false, true],
  [150, 64, 1100, true, false],
  [13, 40, 32, true, true],
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
