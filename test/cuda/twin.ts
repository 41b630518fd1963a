// CUDA-vs-CPU harness: every input is uploaded to both devices, the same kernel call
// runs on each, and the GPU output is compared with the CPU kernel (the oracle).
// Every CUDA test is skipped, with the reason, where no GPU answers.
import assert from "node:assert/strict";
import { native, type NativeAddon, type NativeBuffer } from "../../src/engine/native";

/**
 * Plumbing mode (CLLM4REC_CUDA_TEST_PLUMBING=1): the "gpu" side runs on the CPU too, to
 * check argument sizes and harness logic on a machine without a GPU. It compares the CPU
 * with itself, so it proves nothing about the CUDA kernels and is never a pass for them.
 */
export const plumbing = process.env.CLLM4REC_CUDA_TEST_PLUMBING === "1";
const GPU: 0 | 1 = plumbing ? 0 : 1;

/** Why the CUDA tests cannot run here, or false when they can. */
export const skipCuda: string | false = (() => {
  let n: NativeAddon;
  try {
    n = native();
  } catch (e) {
    return `no native addon: ${(e as Error).message.split("\n")[0]}`;
  }
  if (plumbing) return false;
  if (!n.hasCuda) return "the loaded addon was built without CUDA (run `npm run build:native`)";
  if (n.cudaDeviceCount() === 0)
    return `CUDA addon built, but no GPU answers (${typeof n.cudaDeviceError === "function" ? n.cudaDeviceError() : "cudaGetDeviceCount = 0"})`;
  return false;
})();

export function nat(): NativeAddon {
  return native();
}

/** One logical tensor held on the CPU (device 0) and on the GPU (device 1). */
export interface Twin {
  cpu: NativeBuffer;
  gpu: NativeBuffer;
  dtype: 0 | 1;
}

const live: NativeBuffer[] = [];

function upload(device: 0 | 1, dtype: 0 | 1, data: Float32Array | Int32Array): NativeBuffer {
  const b = nat().alloc(device, dtype, data.length);
  if (data.length > 0) nat().upload(b, data);
  live.push(b);
  return b;
}

export function twinF32(data: ArrayLike<number>): Twin {
  const a = Float32Array.from(data);
  return { cpu: upload(0, 0, a), gpu: upload(GPU, 0, a), dtype: 0 };
}

export function twinI32(data: ArrayLike<number>): Twin {
  const a = Int32Array.from(data);
  return { cpu: upload(0, 1, a), gpu: upload(GPU, 1, a), dtype: 1 };
}

/** n float32 values all equal to v (NaN checks that a kernel does not read its output). */
export function twinFill(n: number, v: number): Twin {
  return twinF32(new Float32Array(n).fill(v));
}

/** Runs the same call once per device; `x` picks a twin's buffer on that device. */
export function both(call: (x: (t: Twin) => NativeBuffer, device: 0 | 1) => void): void {
  call((t) => t.cpu, 0);
  call((t) => t.gpu, GPU);
  nat().synchronize();
}

/** True when the "gpu" side is the CPU simulator (native/cudasim), not a GPU. */
export const onSimulator: boolean = !skipCuda && !plumbing && nat().cudaSimulator === true;

/** For tests that measure a real device property (timings, peak memory): skip on the simulator. */
export function skipOnSimulator(what: string): string | false {
  return skipCuda || (onSimulator ? `needs a real GPU (${what}); the simulator has none` : false);
}

/** Tests that need a real GPU (allocator, OOM) skip in plumbing mode as well. */
export const skipDevice: string | false = skipCuda || (plumbing ? "plumbing mode has no GPU" : false);

/** The device the "gpu" side of a twin lives on (1, or 0 in plumbing mode). */
export const gpuDevice: 0 | 1 = GPU;

/** Nullable twin picker. */
export function opt(x: (t: Twin) => NativeBuffer, t: Twin | null): NativeBuffer | null {
  return t ? x(t) : null;
}

export function download(b: NativeBuffer): Float32Array | Int32Array {
  const n = nat().numel(b);
  const out = nat().dtypeOf(b) === 1 ? new Int32Array(n) : new Float32Array(n);
  if (n > 0) nat().download(b, out);
  return out;
}

export function freeAll(): void {
  for (const b of live.splice(0)) nat().free(b);
}

/** GPU vs CPU: |g - c| <= atol + rtol * |c|; NaN and infinities must match exactly. */
export function expectClose(t: Twin, what: string, rtol: number, atol = rtol): void {
  const c = download(t.cpu),
    g = download(t.gpu);
  assert.equal(g.length, c.length, `${what}: length`);
  let worst = -1,
    worstExcess = 0;
  for (let i = 0; i < c.length; i++) {
    const e = c[i],
      a = g[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      assert.ok(Number.isNaN(e) && Number.isNaN(a), `${what}[${i}]: gpu ${a}, cpu ${e}`);
      continue;
    }
    if (a === e) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (excess > worstExcess || (!Number.isFinite(excess) && worst < 0)) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) assert.fail(`${what}[${worst}]: gpu ${g[worst]}, cpu ${c[worst]} (rtol ${rtol}, atol ${atol})`);
}

/** GPU and CPU bit-for-bit equal (same summation order by design). */
export function expectIdentical(t: Twin, what: string): void {
  const c = download(t.cpu),
    g = download(t.gpu);
  assert.equal(g.length, c.length, `${what}: length`);
  for (let i = 0; i < c.length; i++) if (!Object.is(c[i], g[i])) assert.fail(`${what}[${i}]: gpu ${g[i]} !== cpu ${c[i]}`);
}

// the same seeded inputs as the CPU kernel tests
export { rng, uniform } from "../native/helpers";

// Tolerances (GPU vs CPU kernel, both fp32): elementwise ops differ only by libm/FMA
// rounding; reductions, GEMM and attention also by summation order.
export const TOL_ELEMENTWISE = 1e-5;
export const TOL_REDUCTION = 1e-4;
