// A CUDA L-step loop (loss read every 4 steps) gives the CPU's losses, and after the first
// step the caching allocator serves every buffer: no cudaMalloc (held bytes stay flat).
import { test } from "node:test";
import assert from "node:assert/strict";
import { skipCuda, plumbing } from "./twin";
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
