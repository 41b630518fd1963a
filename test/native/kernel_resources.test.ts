// The kernel resource report written by `npm run build:native` (scripts/kernel_resources.js):
// every kernel of native/cuda is listed for sm_80 and sm_90, and no kernel marked hot spills.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

const file = path.resolve(__dirname, "..", "..", "..", "build-cuda", "kernel_resources.json");
const skip = fs.existsSync(file) ? false : "no build-cuda/kernel_resources.json (run `npm run build:native` where nvcc is installed)";

interface Kernel {
  kernel: string;
  target: string;
  registers: number;
  smem: number;
  spillStores: number;
  spillLoads: number;
  hot: boolean;
  ptxInstructions: Record<string, number>;
}

test("kernel resources: every target listed, hot kernels do not spill", { skip }, () => {
  const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { targets: string[]; kernels: Kernel[] };
  assert.deepEqual(doc.targets, ["sm_80", "sm_90"]);
  for (const t of doc.targets)
    assert.ok(
      doc.kernels.some((k) => k.target === t),
      `no kernel for ${t}`,
    );
  const hot = doc.kernels.filter((k) => k.hot);
  assert.ok(
    hot.some((k) => /gemm_kernel/.test(k.kernel)),
    "the GEMM kernels are marked hot",
  );
  // flash attention (v2) runs on tensor cores: every forward/backward kernel, both targets, is hot and has mma.sync
  const flash = doc.kernels.filter((k) => /flash_(forward|backward)/.test(k.kernel));
  assert.equal(flash.length, 2 * 6, "three flash kernels x head dims 64, 128 x sm_80, sm_90");
  for (const k of flash) {
    assert.ok(k.hot, `${k.kernel} ${k.target} is marked hot`);
    assert.ok((k.ptxInstructions["mma.sync"] ?? 0) > 0, `${k.kernel} ${k.target} has mma.sync in its PTX`);
  }
  for (const k of doc.kernels) {
    assert.ok(k.registers > 0 && k.registers <= 255, `${k.kernel} ${k.target}: ${k.registers} registers`);
    assert.ok(k.smem <= 48 * 1024, `${k.kernel} ${k.target}: ${k.smem} bytes of static shared memory`);
  }
  const spilling = hot.filter((k) => k.spillStores + k.spillLoads > 0);
  assert.deepEqual(
    spilling.map((k) => `${k.kernel} ${k.target}: ${k.spillStores} B spill stores, ${k.spillLoads} B spill loads`),
    [],
  );
});

test("kernel resources: the v3 GEMM runs on tensor cores (mma.sync, cp.async; ldmatrix on k-contiguous tiles)", { skip }, () => {
  const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { kernels: Kernel[] };
  const v3 = doc.kernels.filter((k) => /gemm_kernel_tf32</.test(k.kernel));
  assert.equal(v3.length, 16, "4 transposes x split/no-split x 2 targets");
  for (const k of v3) {
    const ins = k.ptxInstructions;
    assert.ok(k.hot, `${k.kernel} is hot`);
    assert.ok((ins["mma.sync"] ?? 0) >= 32, `${k.kernel} ${k.target}: mma.sync ${ins["mma.sync"]}`); // 2 k-steps x 16 fragments
    assert.ok((ins["cp.async"] ?? 0) > 0, `${k.kernel} ${k.target}: no cp.async`);
    // A [M,K] (not transA) or B [N,K] (transB) tiles are k-contiguous: fed by ldmatrix
    const [tA, tB] = /gemm_kernel_tf32<(true|false), (true|false)/
      .exec(k.kernel)!
      .slice(1)
      .map((x) => x === "true");
    if (!tA || tB) assert.ok((ins.ldmatrix ?? 0) > 0, `${k.kernel} ${k.target}: no ldmatrix`);
  }
});

test("kernel resources: the BF16-weight GEMM runs on tensor cores (mma.sync, ldmatrix, cp.async)", { skip }, () => {
  const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { kernels: Kernel[] };
  const bf = doc.kernels.filter((k) => /gemm_kernel_bf16</.test(k.kernel));
  assert.equal(bf.length, 16, "4 transposes x split/no-split x 2 targets");
  for (const k of bf) {
    const ins = k.ptxInstructions;
    assert.ok(k.hot, `${k.kernel} is hot`);
    assert.ok((ins["mma.sync"] ?? 0) >= 32, `${k.kernel} ${k.target}: mma.sync ${ins["mma.sync"]}`); // 2 k-steps x 16 fragments
    assert.ok((ins.ldmatrix ?? 0) > 0 && (ins["cp.async"] ?? 0) > 0, `${k.kernel} ${k.target}: ${JSON.stringify(ins)}`);
  }
});
