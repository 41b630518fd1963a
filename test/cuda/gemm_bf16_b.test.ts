// The frozen-weight BF16 GEMM (gemmBf16B: B stored once in BF16, A rounded to BF16 in the
// kernel, mma.sync m16n8k16 with FP32 accumulation) on CUDA against (1) its CPU twin, the
// same roundings summed in k order, to fp32 summation-order tolerance, and (2) the FP32 CPU
// GEMM to the per-element BF16 bound (gemm_bound.ts, bits = 7):
//   |gpu - fp32| <= |alpha| (2^-7 + 2^-14 + (K + 2) 2^-23) sum_k |a||b| + 1e-6 (1 + |beta c| + |bias|)
// Shapes reach edge tiles, 16-byte and element copies, every transpose, split-K remainders.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import {
  both,
  download,
  expectClose,
  freeAll,
  nat,
  plumbing,
  rng,
  skipCuda,
  twinF32,
  twinFill,
  uniform,
  TOL_REDUCTION,
  type Twin,
} from "./twin";
import { tf32Bound, expectWithin, type GemmCase } from "./gemm_bound";

const skip = skipCuda || (plumbing ? "plumbing mode has no CUDA kernels to pick" : false);
const PLAN_SMS = 132; // plan split-K as for an H100/H200 (the simulator has 1 SM)

after(() => {
  if (skip) return;
  nat().setGemmVersion(2, 0);
  freeAll();
});

/** op(B) in BF16 on both devices (each side rounds with its own f32ToBf16). */
function bf16Twin(b: Twin, n: number): Twin {
  const w = Math.ceil(n / 2);
  const t = { cpu: nat().alloc(0, 1, w), gpu: nat().alloc(1, 1, w), dtype: 1 as const };
  both((x) => nat().f32ToBf16(x(b), n, x(t)));
  return t;
}

interface Case extends GemmCase {
  bias: boolean;
}

function runCase(c: Case, seed: number): void {
  const rand = rng(seed);
  const A = twinF32(uniform(rand, Math.max(1, c.M * c.K))),
    B = twinF32(uniform(rand, Math.max(1, c.K * c.N)));
  const C = c.beta === 0 ? twinFill(c.M * c.N, Number.NaN) : twinF32(uniform(rand, c.M * c.N));
  const C32 = c.beta === 0 ? twinFill(c.M * c.N, Number.NaN) : twinF32(download(C.cpu));
  const bias = c.bias ? twinF32(uniform(rand, c.N)) : null;
  const c0 = c.beta === 0 ? null : download(C.cpu);
  const Bh = bf16Twin(B, c.K * c.N);
  const what = `gemmBf16B ${JSON.stringify(c)}`;
  both((x) => nat().gemmBf16B(c.tA, c.tB, c.M, c.N, c.K, c.alpha, x(A), 0, x(Bh), c.beta, x(C), 0, bias ? x(bias) : null));
  expectClose(C, `${what} vs its CPU twin`, TOL_REDUCTION, TOL_REDUCTION * Math.max(1, Math.sqrt(c.K) / 4));
  // the FP32 GEMM on the CPU, then the GPU's BF16 result held to the BF16 bound of it
  nat().gemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, A.cpu, 0, 0, B.cpu, 0, 0, c.beta, C32.cpu, 0, 0, 1, bias ? bias.cpu : null);
  const bound = tf32Bound(c, download(A.cpu), download(B.cpu), c0, bias ? download(bias.cpu) : null, 7);
  expectWithin({ cpu: C32.cpu, gpu: C.gpu, dtype: 0 }, `${what} vs the FP32 GEMM`, bound);
  nat().free(Bh.cpu);
  nat().free(Bh.gpu);
}

test("gemmBf16B: every transpose, edge tiles, alpha/beta/bias, against the CPU twin and the FP32 GEMM", { skip }, () => {
  nat().setGemmVersion(2, PLAN_SMS);
  let seed = 500;
  for (const [M, N, K] of [
    [3, 5, 7],
    [130, 70, 40], // two m tiles, two n tiles, K not a whole slice of 32
    [136, 72, 64], // multiples of 8: 16-byte copies of A and B, edge tiles past 128 x 64
  ])
    for (const tA of [false, true]) for (const tB of [false, true]) runCase({ tA, tB, M, N, K, alpha: 1, beta: 0, bias: false }, seed++);
  runCase({ tA: false, tB: false, M: 9, N: 33, K: 50, alpha: 0.5, beta: 1, bias: true }, seed++);
  runCase({ tA: true, tB: true, M: 5, N: 12, K: 21, alpha: -2, beta: 0.25, bias: true }, seed++);
});

test("gemmBf16B: split-K on skinny deep shapes (remainders), bit-identical reruns", { skip }, () => {
  nat().setGemmVersion(2, PLAN_SMS);
  runCase({ tA: false, tB: false, M: 4, N: 40, K: 1000, alpha: 1, beta: 0, bias: false }, 600); // 3 splits of 352, the last 296
  runCase({ tA: false, tB: true, M: 2, N: 9, K: 777, alpha: 0.5, beta: 0.5, bias: true }, 601);
  const rand = rng(602);
  const M = 3,
    N = 24,
    K = 1200;
  const A = twinF32(uniform(rand, M * K)),
    B = twinF32(uniform(rand, K * N));
  const Bh = bf16Twin(B, K * N);
  const runs = [0, 1, 2].map(() => {
    const C = twinFill(M * N, Number.NaN);
    nat().gemmBf16B(false, false, M, N, K, 1, A.gpu, 0, Bh.gpu, 0, C.gpu, 0, null);
    return download(C.gpu);
  });
  assert.deepEqual(runs[1], runs[0]);
  assert.deepEqual(runs[2], runs[0]);
});
