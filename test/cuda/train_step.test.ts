// A CUDA L-step loop (loss read every 4 steps) gives the CPU's losses, and after the first
// step the caching allocator serves every buffer: no cudaMalloc (held bytes stay flat). On
// the simulator, the steady state of L-steps and RecLLM steps is counted: no cudaMalloc, every
// upload from pinned memory, and the stream drained only by the loss read every 4 steps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { skipCuda, plumbing, onSimulator, nat } from "./twin";
import { runLSteps } from "../train/step_loop";
import { runWithNanAt } from "../train/nan_inject";

const skip = skipCuda || (plumbing ? "plumbing mode runs no CUDA model" : false);

test("CUDA L-steps: CPU losses, loss read every 4 steps, no device allocation after step 1", { skip }, async () => {
  const cpu = await runLSteps("cpu", 5, 1);
  const gpu = await runLSteps("cuda", 5, 4); // the fp32 path (step_loop asks for f32 unless told)
  assert.deepEqual(gpu.reportedAfterPush, [0, 0, 0, 4, 4]);
  assert.equal(gpu.losses.length, 5);
  gpu.losses.forEach((l, i) => {
    const tol = 1e-4 * Math.max(1, Math.abs(cpu.losses[i])); // fp32, different summation orders
    assert.ok(Math.abs(l - cpu.losses[i]) <= tol, `step ${i + 1}: cuda ${l} vs cpu ${cpu.losses[i]}`);
  });
  const held = gpu.stats.map((s) => s.cudaBytes + s.cudaCachedBytes);
  for (let i = 2; i < held.length; i++) {
    assert.equal(held[i], held[1], `device memory held grew at step ${i + 1} (a cudaMalloc in the steady state)`);
    assert.equal(gpu.stats[i].liveBuffers, gpu.stats[1].liveBuffers, `live buffers grew at step ${i + 1}`);
    assert.equal(gpu.stats[i].cudaBytes, gpu.stats[1].cudaBytes, `live device bytes grew at step ${i + 1}`);
  }
});

test("CUDA L-steps and RecLLM steps in the steady state: no cudaMalloc, pinned uploads, one sync per 4 steps", {
  skip: skip || (onSimulator ? false : "counts copies and syncs in the simulator's runtime (stats().cudaSim)"),
}, async () => {
  for (const kind of ["L", "rec"] as const) {
    const cpu = await runLSteps("cpu", 9, 1, kind);
    const gpu = await runLSteps("cuda", 9, 4, kind);
    gpu.losses.forEach((l, i) => {
      const tol = 1e-4 * Math.max(1, Math.abs(cpu.losses[i]));
      assert.ok(Math.abs(l - cpu.losses[i]) <= tol, `${kind} step ${i + 1}: cuda ${l} vs cpu ${cpu.losses[i]}`);
    });
    const sim = gpu.stats.map((s) => s.cudaSim!);
    for (let i = 2; i < sim.length; i++) {
      const d = (k: keyof (typeof sim)[0]) => sim[i][k] - sim[i - 1][k];
      const read = (i + 1) % 4 === 0 ? 1 : 0; // LossWatch reads after steps 4 and 8
      const step = `${kind} step ${i + 1}`;
      assert.equal(d("deviceMallocs"), 0, `${step}: cudaMalloc in the steady state`);
      assert.equal(d("h2dPageable"), 0, `${step}: an upload from pageable memory`);
      assert.ok(d("h2dPinned") > 0, `${step}: the batch was not uploaded from pinned memory`);
      assert.equal(d("streamSyncs"), read, `${step}: stream syncs`);
      // the read drains the stream once and copies two things back: the loss ring and the
      // device status block (due, since the loss kernels check their targets on the device)
      assert.equal(d("d2hCopies"), 2 * read, `${step}: device-to-host copies`);
      assert.equal(d("eventSyncs"), 0, `${step}: a wait for the staging ring`);
    }
  }
});

// BF16 frozen weights (the CUDA default) against the FP32 CPU oracle. Tolerances: per step
// |loss_bf16 - loss_fp32| <= 1e-3 * max(1, |loss_fp32|), and step 1's user/item gradients
// within 1e-2 relative RMS. BF16 rounds the weights and each GEMM's activations to 8
// significant bits (2^-8 relative per operand); measured on the simulator: losses within
// 1.5e-5 relative (near-uniform item logits of the tiny model), gradients 2.4e-3 (user) and
// 1.1e-3 (item) relative RMS. The user/item tables and Adam stay fp32.
test("CUDA L-steps with BF16 frozen weights: FP32 CPU losses and gradients within tolerance, BF16 GEMMs ran, memory flat", {
  skip,
}, async () => {
  const cpu = await runLSteps("cpu", 4, 1, "L", "f32");
  // the MLP's c_fc runs as gemmBf16BGelu (the GEMM with its GELU epilogue)
  const bf16Gemms = () => (nat().stats().launches.gemmBf16B ?? 0) + (nat().stats().launches.gemmBf16BGelu ?? 0);
  const before = bf16Gemms();
  const gpu = await runLSteps("cuda", 4, 2, "L", "default"); // the CUDA default: bf16
  const launched = bf16Gemms() - before;
  assert.ok(launched >= 4 * 8, `gemmBf16B launches ${launched}: 4 block GEMMs forward + 4 input gradients per layer and step`);
  gpu.losses.forEach((l, i) => {
    const e = cpu.losses[i];
    assert.ok(Math.abs(l - e) <= 1e-3 * Math.max(1, Math.abs(e)), `step ${i + 1}: cuda bf16 ${l} vs cpu fp32 ${e}`);
  });
  gpu.firstGrads.forEach((g, k) => {
    const e = relRms(g, cpu.firstGrads[k]);
    assert.ok(e < 1e-2, `${["user", "item"][k]} table gradient: relative RMS ${e}`);
    assert.ok(e > 0, "BF16 rounding changes the gradient (the BF16 path ran)");
  });
  const held = gpu.stats.map((s) => s.cudaBytes + s.cudaCachedBytes);
  for (let i = 2; i < held.length; i++) assert.equal(held[i], held[1], `device memory held grew at step ${i + 1}`);
});

function relRms(a: Float32Array, b: Float32Array): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

test("CUDA trainer: a NaN at step s names step s for every --sync-every; the tables stay as after step s-1", { skip }, async () => {
  const s = 3;
  for (const syncEvery of [1, 2, 4]) {
    const r = await runWithNanAt("cuda", syncEvery, s);
    assert.equal(r.error.step, s, `--sync-every ${syncEvery}: ${r.error.message}`);
    assert.equal(r.stepsRun, Math.ceil(s / syncEvery) * syncEvery, `--sync-every ${syncEvery}: steps run`);
    r.after.forEach((t, i) => {
      for (let j = 0; j < t.length; j++)
        if (!Object.is(t[j], r.before[i][j])) assert.fail(`--sync-every ${syncEvery}: table ${i}[${j}] ${r.before[i][j]} -> ${t[j]}`);
    });
  }
});
