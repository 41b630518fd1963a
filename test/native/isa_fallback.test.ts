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

test("cpuIsa names the clones the kernels run: CLLM4REC_CPU_ISA caps it, and the FMA peak loop agrees", () => {
  const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
  const engine = path.join(__dirname, "..", "..", "src", "engine");
  const probe = (isa: string | undefined) => {
    const r = spawnSync(
      process.execPath,
      [
        "-e",
        `const e = require(${JSON.stringify(engine)}); const n = e.native(); console.log(JSON.stringify([n.cpuIsa(), n.fmaPeak(0, 0.01).lanes, e.cpuKernels()]))`,
      ],
      { env: isa ? { ...env, CLLM4REC_CPU_ISA: isa } : env, encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as [number, number, string];
  };
  const [own, lanes, name] = probe(undefined);
  assert.ok([0, 1, 2].includes(own), `cpuIsa ${own}`);
  if (own > 0) assert.equal(lanes, own === 2 ? 16 : 8, "the peak loop runs the same ISA as the kernels");
  assert.match(name, own === 2 ? /^AVX-512/ : own === 1 ? /^AVX2 \+ FMA kernels$/ : /^portable kernels$/);
  const [generic, , genericName] = probe("generic");
  assert.equal(generic, 0);
  assert.equal(genericName, "portable kernels");
  assert.equal(probe("avx2")[0], Math.min(own, 1));
});
