// linear -> GELU in one GEMM on CUDA: every GEMM version (v1, v2's split-K, v3's TF32 tiles)
// and the BF16-weight GEMM write pre in their epilogue (or split-K reduction) and gelu(pre)
// next to it. Checked against the CPU twin (pre: the version's GEMM tolerance; out: the CPU's
// GELU of the GPU's own pre, so the epilogue is isolated), and pre bit for bit against the
// same version's unfused GEMM. The check:device GEMM timer runs the fused and unfused pair.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { GEMM_VERSIONS } from "../../bench/cuda/gemm/versions";
import { tf32Bound, expectWithin } from "./gemm_bound";
import {
  both,
  download,
  expectClose,
  expectIdentical,
  freeAll,
  nat,
  opt,
  plumbing,
  rng,
  skipCuda,
  twinF32,
  twinFill,
  uniform,
  TOL_ELEMENTWISE,
  TOL_REDUCTION,
  type Twin,
} from "./twin";

const skip = skipCuda || (plumbing ? "plumbing mode has no CUDA kernels to pick" : false);
const PLAN_SMS = 132; // plan split-K as for an H100/H200, so the simulator's 1 SM does not hide it
const versionAtStart = skip ? 0 : nat().gemmVersion();

after(() => {
  if (skip) return;
  nat().setGemmVersion(versionAtStart, 0);
  freeAll();
});

// [M, N, K]: skinny and deep (split-K), edge tiles without split, 16-byte copies past 128x64, tiny
const shapes: Array<[number, number, number]> = [
  [5, 70, 700],
  [70, 130, 40],
  [132, 68, 48],
  [3, 5, 7],
];

// out.gpu against the CPU's GELU of pre.gpu: the epilogue's own error, whatever the GEMM's
function expectGeluOfPre(pre: Twin, out: Twin, n: number, what: string): void {
  const p = twinF32(download(pre.gpu)),
    ref = twinFill(n, Number.NaN);
  nat().geluForward(p.cpu, ref.cpu, n);
  expectClose({ cpu: ref.cpu, gpu: out.gpu, dtype: 0 }, `${what} out = gelu(pre)`, TOL_ELEMENTWISE);
}

test("cuda gemmGelu: v1, v2 (split-K) and v3 (TF32) write pre and gelu(pre); pre is the unfused GEMM's", { skip }, () => {
  for (const v of [1, 2, 3]) {
    nat().setGemmVersion(v, PLAN_SMS);
    shapes.forEach(([M, N, K], s) => {
      for (const withBias of [true, false]) {
        const rand = rng(60 + s);
        const A = twinF32(uniform(rand, M * K, -2, 2)),
          B = twinF32(uniform(rand, K * N, -0.5, 0.5)),
          bias = withBias ? twinF32(uniform(rand, N)) : null;
        const pre = twinFill(M * N, Number.NaN),
          out = twinFill(M * N, Number.NaN),
          unfused = twinFill(M * N, Number.NaN);
        both((x) => nat().gemmGelu(M, N, K, x(A), x(B), opt(x, bias), x(pre), x(out)));
        const what = `gemmGelu v${v} ${M}x${N}x${K} bias=${withBias} (splits ${nat().gemmSplits(M, N, K, 1)})`;
        if (v === 3) {
          const c = { tA: false, tB: false, M, N, K, alpha: 1, beta: 0 };
          expectWithin(pre, `${what} pre`, tf32Bound(c, download(A.cpu), download(B.cpu), null, bias ? download(bias.cpu) : null));
        } else expectClose(pre, `${what} pre`, TOL_REDUCTION, TOL_REDUCTION * Math.max(1, Math.sqrt(K) / 4));
        expectGeluOfPre(pre, out, M * N, what);
        nat().gemm(false, false, M, N, K, 1, A.gpu, 0, 0, B.gpu, 0, 0, 0, unfused.gpu, 0, 0, 1, bias ? bias.gpu : null);
        expectIdentical({ cpu: unfused.gpu, gpu: pre.gpu, dtype: 0 }, `${what} pre vs the unfused GEMM`);
      }
    });
  }
});

test("cuda gemmBf16BGelu: the BF16-weight GEMM (and its split-K) writes pre and gelu(pre)", { skip }, () => {
  nat().setGemmVersion(versionAtStart, PLAN_SMS); // gemm_bf16_b plans split-K for the same SM count
  shapes.forEach(([M, N, K], s) => {
    const rand = rng(70 + s);
    const A = twinF32(uniform(rand, M * K, -2, 2)),
      W = twinF32(uniform(rand, K * N, -0.5, 0.5)),
      bias = twinF32(uniform(rand, N));
    const words = Math.ceil((K * N) / 2);
    const Bh = { cpu: nat().alloc(0, 1, words), gpu: nat().alloc(1, 1, words), dtype: 1 as const };
    both((x) => nat().f32ToBf16(x(W), K * N, x(Bh)));
    const pre = twinFill(M * N, Number.NaN),
      out = twinFill(M * N, Number.NaN),
      unfused = twinFill(M * N, Number.NaN);
    both((x) => nat().gemmBf16BGelu(M, N, K, x(A), x(Bh), x(bias), x(pre), x(out)));
    const what = `gemmBf16BGelu ${M}x${N}x${K}`;
    expectClose(pre, `${what} pre vs its CPU twin`, TOL_REDUCTION, TOL_REDUCTION * Math.max(1, Math.sqrt(K) / 4));
    expectGeluOfPre(pre, out, M * N, what);
    nat().gemmBf16B(false, false, M, N, K, 1, A.gpu, 0, Bh.gpu, 0, unfused.gpu, 0, bias.gpu);
    expectIdentical({ cpu: unfused.gpu, gpu: pre.gpu, dtype: 0 }, `${what} pre vs the unfused GEMM`);
    nat().free(Bh.cpu);
    nat().free(Bh.gpu);
  });
});

test("gemm bench harness (check:device's step) times the fused and unfused linear -> GELU in --smoke mode", { skip }, () => {
  // the child loads the same addon (CLLM4REC_ADDON is inherited): the simulator in CI, the GPU on check:device
  const script = path.join(__dirname, "..", "..", "bench", "cuda", "gemm", "time.js");
  const r = spawnSync(process.execPath, [script, "--smoke"], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `time.js --smoke failed:\n${r.stdout}\n${r.stderr}`);
  const line = r.stdout.split("\n").find((l) => l.startsWith('{"bench":"gemm_versions"'));
  assert.ok(line, `no JSON line in:\n${r.stdout}`);
  const rows = (JSON.parse(line) as { rows: Array<{ version: string; shape: string; ms: number; tflops: number }> }).rows;
  const want = [...GEMM_VERSIONS.map((v) => `v${v.id}`), "bf16w", "bf16w+gelu", "bf16w,gelu"];
  for (const shape of new Set(rows.map((x) => x.shape)))
    assert.deepEqual(
      rows.filter((x) => x.shape === shape).map((x) => x.version),
      want,
      `${shape}: versions timed`,
    );
  assert.equal(rows.length, 2 * want.length, "two smoke shapes");
  for (const x of rows) assert.ok(x.ms > 0 && Number.isFinite(x.tflops), `${JSON.stringify(x)}`);
});
