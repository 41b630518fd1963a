// A CUDA L-step loop (loss read every 4 steps) gives the CPU's losses, and after the first
// step the caching allocator serves every buffer: no cudaMalloc (held bytes stay flat). On
// the simulator, the steady state of L-steps and RecLLM steps is counted: no cudaMalloc, every
// upload from pinned memory, and the stream drained only by the loss read every 4 steps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { skipCuda, plumbing, onSimulator } from "./twin";
import { runLSteps } from "../train/step_loop";

const skip = skipCuda || (plumbing ? "plumbing mode runs no CUDA model" : false);

test("CUDA L-steps: CPU losses, loss read every 4 steps, no device allocation after step 1", { skip }, async () => {
  const cpu = await runLSteps("cpu", 5, 1);
  const gpu = await runLSteps("cuda", 5, 4);
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
