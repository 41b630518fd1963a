// Every GEMM version (bench/cuda/gemm) against the CPU GEMM, on shapes that reach its
// special paths: v2's split-K on skinny deep shapes (K remainders that are not whole
// slices, the last split shorter), with alpha/beta/bias, and bit-identical reruns.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { both, download, expectClose, freeAll, nat, opt, plumbing, rng, skipCuda, twinF32, twinFill, uniform, TOL_REDUCTION } from "./twin";
import { GEMM_VERSIONS } from "../../bench/cuda/gemm/versions";

const skip = skipCuda || (plumbing ? "plumbing mode has no CUDA kernels to pick" : false);
const PLAN_SMS = 132; // plan split-K as for an H100/H200, so the simulator's 1 SM does not hide it

after(() => {
  if (skip) return;
  nat().setGemmVersion(GEMM_VERSIONS[GEMM_VERSIONS.length - 1].id, 0);
  freeAll();
});

interface Case {
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  bias: boolean;
}

function runCase(c: Case, seed: number): void {
  const rand = rng(seed);
  const A = twinF32(uniform(rand, Math.max(1, c.M * c.K)));
  const B = twinF32(uniform(rand, Math.max(1, c.K * c.N)));
  const C = c.beta === 0 ? twinFill(c.M * c.N, NaN) : twinF32(uniform(rand, c.M * c.N));
  const bias = c.bias ? twinF32(uniform(rand, c.N)) : null;
  both((x) =>
    nat().gemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, x(A), 0, c.M * c.K, x(B), 0, c.K * c.N, c.beta, x(C), 0, c.M * c.N, 1, opt(x, bias)),
  );
  expectClose(C, `gemm v${nat().gemmVersion()} ${JSON.stringify(c)}`, TOL_REDUCTION, TOL_REDUCTION * Math.max(1, Math.sqrt(c.K) / 4));
}

// [M, N, K]: skinny and deep (split), one tile (split), many tiles (no split), tiny K
const shapes: Array<[number, number, number]> = [
  [5, 70, 700],
  [1, 33, 1000],
  [64, 64, 257],
  [130, 70, 40],
  [3, 5, 7],
];

test("gemm versions: the split-K plan splits skinny deep shapes only", { skip }, () => {
  nat().setGemmVersion(2, PLAN_SMS);
  assert.equal(nat().gemmSplits(5, 70, 700, 1), 5); // 2 tiles, 700/(8*16) = 5 splits by depth
  assert.equal(nat().gemmSplits(1, 33, 1000, 1), 7);
  assert.equal(nat().gemmSplits(64, 64, 1 << 20, 1), 64); // capped
  assert.equal(nat().gemmSplits(5, 70, 700, 2), 1); // batched: never
  assert.equal(nat().gemmSplits(3, 5, 7, 1), 1); // too shallow
  assert.equal(nat().gemmSplits(64 * 12, 64 * 12, 4096, 1), 1); // 144 tiles >= 132 SMs
  assert.throws(() => nat().setGemmVersion(99, 0), /version 99 does not exist/);
  assert.throws(() => nat().setGemmVersion(1, -1), /planSms/);
});

for (const v of GEMM_VERSIONS) {
  test(`gemm v${v.id} (${v.name}): every transpose, odd and skinny shapes, alpha/beta/bias`, { skip }, () => {
    nat().setGemmVersion(v.id, PLAN_SMS);
    assert.equal(nat().gemmVersion(), v.id);
    let seed = 100 * v.id;
    for (const [M, N, K] of shapes)
      for (const tA of [false, true]) for (const tB of [false, true]) runCase({ tA, tB, M, N, K, alpha: 1, beta: 0, bias: false }, seed++);
    runCase({ tA: false, tB: true, M: 7, N: 65, K: 513, alpha: 0.5, beta: 1, bias: true }, seed++);
    runCase({ tA: true, tB: false, M: 2, N: 9, K: 300, alpha: -2, beta: 0.25, bias: true }, seed++);
  });
}

test("gemm v2: split-K reruns are bit-identical (fixed-order reduction)", { skip }, () => {
  nat().setGemmVersion(2, PLAN_SMS);
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
