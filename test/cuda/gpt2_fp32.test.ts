// --dtype fp32 on CUDA is FP32 end to end: the model asks for attention v1 (FP32), so an fp32
// GPT-2 at head dim 64 matches the CPU oracle at the FP32 tolerance (1e-4), and the same model
// with flash attention v2 (BF16 operands) forced by CLLM4REC_ATTENTION_VERSION=2 does not.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { skipCuda, plumbing, nat } from "./twin";
import { cudaVsCpuExcess } from "./gpt2_fp32_probe";

const skip = skipCuda || (plumbing ? "plumbing mode runs no CUDA model" : false);

test("an fp32 GPT-2 on CUDA runs FP32 attention: CPU oracle at 1e-4; forced v2 misses it", { skip }, () => {
  const calls: number[] = [];
  const n = nat() as unknown as Record<string, (...a: unknown[]) => unknown>;
  const real = n.attentionForward;
  n.attentionForward = (...a: unknown[]) => {
    calls.push(a[a.length - 1] as number);
    return real(...a);
  };
  let e: { hidden: number; dx: number };
  try {
    e = cudaVsCpuExcess("f32");
  } finally {
    n.attentionForward = real;
  }
  // each model's one layer: the CPU call and the CUDA call both ask for version 1
  assert.deepEqual(calls, [1, 1], "the fp32 model asks for attention v1");
  if (!process.env.CLLM4REC_ATTENTION_VERSION) assert.equal(nat().attentionKernelVersion(64, 1), 1);
  assert.ok(e.hidden <= 1 && e.dx <= 1, `fp32 model off the CPU by ${JSON.stringify(e)} x the FP32 tolerance`);

  // the same comparison in a child whose addon pins v2: the test can tell the versions apart
  const probe = path.join(__dirname, "gpt2_fp32_probe.js");
  const r = spawnSync(process.execPath, [probe], {
    encoding: "utf8",
    env: { ...process.env, CLLM4REC_ATTENTION_VERSION: "2" },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `probe failed:\n${r.stdout}\n${r.stderr}`);
  const forced = JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as { hidden: number; dx: number };
  assert.ok(Math.max(forced.hidden, forced.dx) > 1, `v2 forced stays within the FP32 tolerance: ${JSON.stringify(forced)}`);
  console.log(`fp32 attention: ${JSON.stringify(e)}; v2 forced: ${JSON.stringify(forced)} (x the FP32 tolerance)`);
});
