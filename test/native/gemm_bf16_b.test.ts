// The portable BF16-weight GEMM (gemmBf16B, the CPU twin of the CUDA frozen-weight path) and
// f32ToBf16: rounding to nearest even checked bit by bit, and the GEMM against a float64
// reference over the same BF16-rounded operands (so only fp32 accumulation error remains).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { f32, zeros, nat, freeAll, uniform, rng, read, assertClose } from "./helpers";

after(freeAll);

const toBf16 = (x: number): number => {
  const f = new Float32Array([x]),
    u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000; // round to nearest even
  return f[0];
};

function words(x: Float32Array): Int32Array {
  const dst = nat.alloc(0, 1, Math.ceil(x.length / 2));
  nat.f32ToBf16(f32(x), x.length, dst);
  const out = new Int32Array(Math.ceil(x.length / 2));
  nat.download(dst, out);
  nat.free(dst);
  return out;
}

test("f32ToBf16: nearest even, ties to even, NaN stays NaN, odd n leaves the last high half 0", () => {
  const bits = (h: number) => new Float32Array(new Uint32Array([h << 16]).buffer)[0];
  const x = new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, Number.NaN, 1 + 2 ** -7 + 3 * 2 ** -9]);
  const w = words(x);
  const halves = Array.from(w).flatMap((v) => [v & 0xffff, (v >>> 16) & 0xffff]);
  assert.equal(bits(halves[0]), 1);
  assert.equal(bits(halves[1]), 1); // a tie rounds to the even neighbour (1)
  assert.equal(bits(halves[2]), 1 + 2 ** -6); // a tie rounds up to the even neighbour
  assert.equal(bits(halves[3]), -2.5);
  assert.ok(Number.isNaN(bits(halves[4])));
  assert.equal(bits(halves[5]), 1 + 2 ** -6); // 1.75 ulp above 1: up
  const odd = words(new Float32Array([3, 5, 7]));
  assert.equal(odd.length, 2);
  assert.equal((odd[1] >>> 16) & 0xffff, 0);
});

test("gemmBf16B (CPU twin): every transpose, alpha/beta/bias, against a float64 reference on BF16 operands", () => {
  const rand = rng(31);
  for (const [M, N, K] of [
    [3, 5, 7],
    [17, 9, 33],
  ])
    for (const tA of [false, true])
      for (const tB of [false, true]) {
        const A = uniform(rand, M * K),
          B = uniform(rand, K * N),
          C0 = uniform(rand, M * N),
          bias = uniform(rand, N);
        const Bh = nat.alloc(0, 1, Math.ceil((K * N) / 2));
        nat.f32ToBf16(f32(B), K * N, Bh);
        const C = f32(C0);
        nat.gemmBf16B(tA, tB, M, N, K, 0.5, f32(A), 0, Bh, 2, C, 0, f32(bias));
        const ref = new Float64Array(M * N);
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += toBf16(tA ? A[k * M + m] : A[m * K + k]) * toBf16(tB ? B[n * K + k] : B[k * N + n]);
            ref[m * N + n] = 0.5 * s + 2 * C0[m * N + n] + bias[n];
          }
        assertClose(read(C), ref, `gemmBf16B ${tA}/${tB} ${M}x${N}x${K}`, 1e-5, 1e-5);
        nat.free(Bh);
      }
});

test("gemmBf16B: a Bh buffer shorter than op(B) is an error naming it", () => {
  const Bh = nat.alloc(0, 1, 3); // 6 bf16 < K*N = 8
  assert.throws(() => nat.gemmBf16B(false, false, 2, 2, 4, 1, zeros(8), 0, Bh, 0, zeros(4), 0, null), /gemmBf16B.*Bh/);
  nat.free(Bh);
});
