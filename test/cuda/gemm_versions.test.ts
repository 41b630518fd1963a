// Every GEMM version (bench/cuda/gemm) against the CPU GEMM, on shapes that reach its
// special paths: v2's split-K on skinny deep shapes (K remainders that are not whole
// slices, the last split shorter), with alpha/beta/bias, and bit-identical reruns.
// TF32 versions (v3) are held to the rounding bound of TF32 operands, element by element:
//   |gpu - cpu| <= |alpha| * (2^-10 + (K + 2) * 2^-23) * sum_k |a_ik| |b_kj| + 1e-6 * (1 + |beta c| + |bias|)
// (each operand rounded to 10 mantissa bits: relative error <= 2^-11, a product's <= 2^-10;
// the rest is FP32 accumulation in either order). A wrong fragment mapping misses by ~|c|.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { tf32Bound, expectWithin, type GemmCase } from "./gemm_bound";
import { both, download, expectClose, freeAll, nat, opt, plumbing, rng, skipCuda, twinF32, twinFill, uniform, TOL_REDUCTION } from "./twin";
import { GEMM_VERSIONS } from "../../bench/cuda/gemm/versions";

const skip = skipCuda || (plumbing ? "plumbing mode has no CUDA kernels to pick" : false);
const PLAN_SMS = 132; // plan split-K as for an H100/H200, so the simulator's 1 SM does not hide it

after(() => {
  if (skip) return;
  nat().setGemmVersion(GEMM_VERSIONS[GEMM_VERSIONS.length - 1].id, 0);
  freeAll();
});

interface Case extends GemmCase {
  bias: boolean;
}

function runCase(c: Case, seed: number, tf32 = false): void {
  const rand = rng(seed);
  const A = twinF32(uniform(rand, Math.max(1, c.M * c.K)));
  const B = twinF32(uniform(rand, Math.max(1, c.K * c.N)));
  const C = c.beta === 0 ? twinFill(c.M * c.N, NaN) : twinF32(uniform(rand, c.M * c.N));
  const bias = c.bias ? twinF32(uniform(rand, c.N)) : null;
  const c0 = c.beta === 0 ? null : download(C.cpu);
  both((x) =>
    nat().gemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, x(A), 0, c.M * c.K, x(B), 0, c.K * c.N, c.beta, x(C), 0, c.M * c.N, 1, opt(x, bias)),
  );
  const what = `gemm v${nat().gemmVersion()} ${JSON.stringify(c)}`;
  if (tf32) {
    const a = download(A.cpu),
      b = download(B.cpu);
    expectWithin(C, what, tf32Bound(c, a, b, c0, bias ? download(bias.cpu) : null));
  } else expectClose(C, what, TOL_REDUCTION, TOL_REDUCTION * Math.max(1, Math.sqrt(c.K) / 4));
}

// [M, N, K]: skinny and deep (split), one tile (split), many tiles (no split), tiny K
const shapes: Array<[number, number, number]> = [
  [5, 70, 700],
  [1, 33, 1000],
  [64, 64, 257],
  [130, 70, 40],
  [3, 5, 7],
  [132, 68, 48], // every dimension a multiple of 4: v3's 16-byte copies, edge tiles past 128 x 64
];

test("gemm versions: the split-K plan splits skinny deep shapes only", { skip }, () => {
  nat().setGemmVersion(2, PLAN_SMS);
  assert.equal(nat().gemmSplits(5, 70, 700, 1), 5); // 2 tiles, 700/(8*16) = 5 splits by depth
  assert.equal(nat().gemmSplits(1, 33, 1000, 1), 7);
  assert.equal(nat().gemmSplits(64, 64, 1 << 20, 1), 64); // capped
  assert.equal(nat().gemmSplits(5, 70, 700, 2), 1); // batched: never
  assert.equal(nat().gemmSplits(3, 5, 7, 1), 1); // too shallow
  assert.equal(nat().gemmSplits(64 * 12, 64 * 12, 4096, 1), 1); // 144 tiles >= 132 SMs
  nat().setGemmVersion(3, PLAN_SMS); // v3 plans for its own 128x64 tiles
  assert.equal(nat().gemmSplits(5, 70, 700, 1), 5);
  assert.equal(nat().gemmSplits(200, 768, 4096, 1), 11); // 24 tiles: ceil(264 / 24)
  nat().setGemmVersion(2, PLAN_SMS);
  assert.equal(nat().gemmSplits(200, 768, 4096, 1), 6); // 48 tiles of 64x64
  assert.throws(() => nat().setGemmVersion(99, 0), /version 99 does not exist/);
  assert.throws(() => nat().setGemmVersion(1, -1), /planSms/);
});

for (const v of GEMM_VERSIONS) {
  test(`gemm v${v.id} (${v.name}): every transpose, odd and skinny shapes, alpha/beta/bias`, { skip }, () => {
    nat().setGemmVersion(v.id, PLAN_SMS);
    assert.equal(nat().gemmVersion(), v.id);
    let seed = 100 * v.id;
    for (const [M, N, K] of shapes)
      for (const tA of [false, true])
        for (const tB of [false, true]) runCase({ tA, tB, M, N, K, alpha: 1, beta: 0, bias: false }, seed++, v.tf32);
    runCase({ tA: false, tB: true, M: 7, N: 65, K: 513, alpha: 0.5, beta: 1, bias: true }, seed++, v.tf32);
    runCase({ tA: true, tB: false, M: 2, N: 9, K: 300, alpha: -2, beta: 0.25, bias: true }, seed++, v.tf32);
  });
}

for (const v of GEMM_VERSIONS)
  test(`gemm v${v.id}: batched, broadcast A (stride 0), strided B and C, bias and beta`, { skip }, () => {
    nat().setGemmVersion(v.id, PLAN_SMS);
    const rand = rng(900 + v.id);
    for (const [tA, tB, M, N, K, batch] of [
      [false, false, 9, 20, 13, 3],
      [true, true, 17, 12, 24, 2],
    ] as Array<[boolean, boolean, number, number, number, number]>) {
      const sB = K * N + 3,
        sC = M * N + 1; // odd batch strides: no 16-byte copies for B
      const A = twinF32(uniform(rand, M * K)),
        B = twinF32(uniform(rand, sB * batch)),
        C = twinF32(uniform(rand, sC * batch)),
        bias = twinF32(uniform(rand, N));
      const c0 = download(C.cpu),
        a = download(A.cpu),
        b = download(B.cpu),
        bi = download(bias.cpu);
      both((x) => nat().gemm(tA, tB, M, N, K, 0.75, x(A), 0, 0, x(B), 0, sB, 0.5, x(C), 0, sC, batch, x(bias)));
      const what = `gemm v${v.id} batch ${batch} ${tA}/${tB} ${M}x${N}x${K}`;
      if (!v.tf32) {
        expectClose(C, what, TOL_REDUCTION, TOL_REDUCTION);
        continue;
      }
      // each batch's bound, stitched; the gap elements between slices are untouched (bound 0)
      const bound = new Float64Array(sC * batch);
      for (let i = 0; i < batch; i++) {
        const c = { tA, tB, M, N, K, alpha: 0.75, beta: 0.5 };
        bound.set(tf32Bound(c, a, b.subarray(i * sB, i * sB + K * N), c0.subarray(i * sC, i * sC + M * N), bi), i * sC);
      }
      expectWithin(C, what, bound);
    }
  });

for (const id of [2, 3])
  test(`gemm v${id}: split-K reruns are bit-identical (fixed-order reduction)`, { skip }, () => {
    nat().setGemmVersion(id, PLAN_SMS);
    const rand = rng(7);
    const M = 3,
      N = 40,
      K = 900;
    const A = twinF32(uniform(rand, M * K)),
      B = twinF32(uniform(rand, K * N));
    const runs = [0, 1, 2].map(() => {
      const C = twinFill(M * N, NaN);
      nat().gemm(false, false, M, N, K, 1, A.gpu, 0, 0, B.gpu, 0, 0, 0, C.gpu, 0, 0, 1, null);
      return download(C.gpu);
    });
    assert.ok(nat().gemmSplits(M, N, K, 1) > 1);
    assert.deepEqual(runs[1], runs[0]);
    assert.deepEqual(runs[2], runs[0]);
  });

test("CUDA-event timer: measures queued work, stop without start is an error", { skip }, () => {
  assert.throws(() => nat().cudaTimerStopMs(), /timer_start was not called/);
  nat().cudaTimerStart();
  const ms = nat().cudaTimerStopMs();
  assert.ok(Number.isFinite(ms) && ms >= 0, `elapsed ${ms}`);
});
