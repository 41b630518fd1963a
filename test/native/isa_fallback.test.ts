// The AVX2 and portable clones of the kernels (picked at run time on CPUs without AVX-512)
// pass the same reference tests: rerun the kernel suites with the ISA capped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const suites = [
  "gemm.test.js",
  "attention.test.js",
  "cross_entropy.test.js",
  "multinomial_nll.test.js",
  "linear_cross_entropy.test.js",
  "gelu.test.js",
  "gemm_gelu.test.js",
].map((f) => path.join(__dirname, f));

for (const isa of ["avx2", "generic"]) {
  test(`kernel suites pass with CLLM4REC_CPU_ISA=${isa}`, () => {
    // NODE_TEST_CONTEXT would make the child report to this runner instead of printing TAP.
    const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
    const r = spawnSync(process.execPath, ["--test", "--test-reporter=tap", "--test-concurrency=1", ...suites], {
      env: { ...env, CLLM4REC_CPU_ISA: isa },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `${isa} run failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
    assert.match(r.stdout, /# fail 0/);
  });
}
