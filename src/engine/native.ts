// Loads the N-API addon and types its surface. The addon is glue only: one table row per
// kernel (native/addon/kernels.cc) validates arguments (devices, dtypes, extents, id
// ranges), dispatches to native/cpu or native/cuda, counts launches, and turns every
// native failure into a JS Error.
import * as fs from "node:fs";
import * as path from "node:path";

/** Opaque handle to a native buffer (an N-API External). */
export type NativeBuffer = { readonly __nativeBuffer: unique symbol };
/** 0 = cpu, 1 = cuda */
export type DeviceCode = 0 | 1;
/** 0 = float32, 1 = int32 */
export type DTypeCode = 0 | 1;

export interface NativeStats {
  /** bytes currently allocated (live buffers) per device */
  cpuBytes: number;
  cudaBytes: number;
  /** bytes held by the CUDA caching allocator but not in use */
  cudaCachedBytes: number;
  /** bytes of freed host buffers kept for reuse (CLLM4REC_HOST_CACHE_MB; emptyCache() frees them) */
  cpuCachedBytes: number;
  /** host allocations the cache could not serve (fresh mallocs) since the process started */
  cpuCacheMisses: number;
  liveBuffers: number;
  /** kernel launches by kernel name since the last resetStats() */
  launches: Record<string, number>;
  /**
   * simulator builds only (native/cudasim), cumulative: kernel launches, device-to-host copies,
   * stream syncs, host-to-device copies from pinned / pageable memory, cudaMalloc calls,
   * cudaEventSynchronize calls
   */
  cudaSim?: {
    launches: number;
    d2hCopies: number;
    streamSyncs: number;
    h2dPinned: number;
    h2dPageable: number;
    deviceMallocs: number;
    eventSyncs: number;
  };
}

/**
 * Every buffer argument is a NativeBuffer plus an element offset into it where the
 * signature says `off`; the addon checks that every access stays inside the buffer.
 * Scalars are JS numbers; booleans are JS booleans; nullable buffers may be null.
 */
export interface NativeAddon {
  readonly hasCuda: boolean; // compiled with CUDA
  readonly cudaSimulator?: boolean; // the CUDA side runs on the CPU simulator (native/cudasim)
  /**
   * Kernel entry -> its parameters as [name, kind] with kind f32 | i32 (buffers; "?" when
   * nullable) | int | float | bool, from the addon's table (test/native/signatures.test.ts
   * checks the declarations below against it).
   */
  readonly signatures: Record<string, [string, string][]>;
  cudaDeviceCount(): number; // 0 when no GPU answers
  cudaDeviceName(): string;
  /** Why cudaDeviceCount() is 0 (the CUDA error name of the cause), "" when a device answers. */
  cudaDeviceError(): string;
  setNumThreads(n: number): void;
  numThreads(): number;

  alloc(device: DeviceCode, dtype: DTypeCode, numel: number): NativeBuffer;
  /** alloc without the zero fill (contents undefined; NaN bits under CLLM4REC_POISON_EMPTY=1) */
  allocEmpty(device: DeviceCode, dtype: DTypeCode, numel: number): NativeBuffer;
  free(buf: NativeBuffer): void; // idempotent; the External's finalizer is only a backstop
  isFreed(buf: NativeBuffer): boolean;
  numel(buf: NativeBuffer): number;
  deviceOf(buf: NativeBuffer): DeviceCode;
  dtypeOf(buf: NativeBuffer): DTypeCode;
  /** host typed array (Float32Array for f32, Int32Array for i32) -> buffer, same length */
  upload(buf: NativeBuffer, src: Float32Array | Int32Array): void;
  download(buf: NativeBuffer, dst: Float32Array | Int32Array): void;
  /** dst[dstOff .. dstOff+n) = src[srcOff ..), across devices too; same dtype */
  copy(dst: NativeBuffer, dstOff: number, src: NativeBuffer, srcOff: number, n: number): void;
  synchronize(): void;
  emptyCache(): void;
  stats(): NativeStats;
  resetStats(): void;
  /** CUDA builds (else they throw): which GEMM version cuda::gemm runs (bench/cuda/gemm) and
   *  the SM count its split-K plans for (0 = the device's) */
  setGemmVersion(version: number, planSms: number): void;
  gemmVersion(): number;
  gemmSplits(M: number, N: number, K: number, batch: number): number;
  /** CUDA builds (else they throw): which attention version cuda::attention_* runs
   *  (bench/cuda/attention), and the one that runs for a head dim and a call's version
   *  (v2 covers 64 and 128; CLLM4REC_ATTENTION_VERSION overrides the call's) */
  setAttentionVersion(version: number): void;
  attentionVersion(): number;
  attentionKernelVersion(Dh: number, version: number): number;
  /** CUDA-event timing of the work queued on the stream between the two calls, ms */
  cudaTimerStart(): void;
  cudaTimerStopMs(): number;

  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: NativeBuffer,
    offA: number,
    strideA: number,
    B: NativeBuffer,
    offB: number,
    strideB: number,
    beta: number,
    C: NativeBuffer,
    offC: number,
    strideC: number,
    batch: number,
    bias: NativeBuffer | null,
  ): void;
  /** C = alpha op(A) @ op(B) + beta C (+ bias), op(B) held in BF16 (Bh from f32ToBf16: [K, N],
   *  or [N, K] when transB); A rounded to BF16, fp32 accumulation; CPU twin and CUDA kernel */
  gemmBf16B(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: NativeBuffer,
    offA: number,
    Bh: NativeBuffer,
    beta: number,
    C: NativeBuffer,
    offC: number,
    bias: NativeBuffer | null,
  ): void;
  /** linear -> GELU in one GEMM: pre = A B + bias [M, N] (kept for the backward), out = gelu(pre) */
  gemmGelu(
    M: number,
    N: number,
    K: number,
    A: NativeBuffer,
    B: NativeBuffer,
    bias: NativeBuffer | null,
    pre: NativeBuffer,
    out: NativeBuffer,
  ): void;
  /** the same with B the frozen weight in BF16 (gemmBf16B's Bh, [K, N]) */
  gemmBf16BGelu(
    M: number,
    N: number,
    K: number,
    A: NativeBuffer,
    Bh: NativeBuffer,
    bias: NativeBuffer | null,
    pre: NativeBuffer,
    out: NativeBuffer,
  ): void;
  /** dst (int32, ceil(n/2) words) = x in BF16, two per word, nearest even */
  f32ToBf16(x: NativeBuffer, n: number, dst: NativeBuffer): void;
  colSum(X: NativeBuffer, rows: number, cols: number, out: NativeBuffer, accumulate: boolean): void;
  add(a: NativeBuffer, alpha: number, b: NativeBuffer | null, beta: number, out: NativeBuffer, n: number, accumulate: boolean): void;
  fill(out: NativeBuffer, value: number, n: number): void;
  sum(x: NativeBuffer, n: number, out: NativeBuffer): void;
  copyStrided(
    dst: NativeBuffer,
    dstOff: number,
    dstBatchStride: number,
    dstRowStride: number,
    src: NativeBuffer,
    srcOff: number,
    srcBatchStride: number,
    srcRowStride: number,
    batch: number,
    rows: number,
    cols: number,
    accumulate: boolean,
  ): void;
  layernormForward(
    x: NativeBuffer,
    gamma: NativeBuffer,
    beta: NativeBuffer,
    y: NativeBuffer,
    mean: NativeBuffer,
    rstd: NativeBuffer,
    R: number,
    D: number,
    eps: number,
  ): void;
  layernormBackward(
    dy: NativeBuffer,
    x: NativeBuffer,
    gamma: NativeBuffer,
    mean: NativeBuffer,
    rstd: NativeBuffer,
    dx: NativeBuffer | null,
    dgamma: NativeBuffer | null,
    dbeta: NativeBuffer | null,
    R: number,
    D: number,
    accumulateDx: boolean,
  ): void;
  geluForward(x: NativeBuffer, y: NativeBuffer, n: number): void;
  geluBackward(x: NativeBuffer, dy: NativeBuffer, dx: NativeBuffer, n: number, accumulate: boolean): void;
  attentionForward(
    q: NativeBuffer,
    offQ: number,
    ldq: number,
    kv: NativeBuffer,
    offK: number,
    offV: number,
    ldk: number,
    keyMask: NativeBuffer | null,
    out: NativeBuffer,
    lse: NativeBuffer,
    B: number,
    H: number,
    Tq: number,
    Tk: number,
    Dh: number,
    seed: number,
    site: number,
    step: number,
    threshold: number,
    scale: number,
    /** the CUDA version asked for: 0 default, 1 FP32 (an fp32 model), 2 flash; the CPU has one */
    version: number,
  ): void;
  attentionBackward(
    dout: NativeBuffer,
    q: NativeBuffer,
    offQ: number,
    ldq: number,
    kv: NativeBuffer,
    offK: number,
    offV: number,
    ldk: number,
    keyMask: NativeBuffer | null,
    out: NativeBuffer,
    lse: NativeBuffer,
    dq: NativeBuffer,
    offDq: number,
    dkv: NativeBuffer,
    offDk: number,
    offDv: number,
    B: number,
    H: number,
    Tq: number,
    Tk: number,
    Dh: number,
    seed: number,
    site: number,
    step: number,
    threshold: number,
    scale: number,
    version: number,
  ): void;
  /** strict: every id must lie in [idBase, idBase+rows) or a RangeError is thrown */
  gatherRows(
    table: NativeBuffer,
    rows: number,
    d: number,
    ids: NativeBuffer,
    n: number,
    idBase: number,
    out: NativeBuffer,
    strict: boolean,
  ): void;
  scatterAddRows(dtable: NativeBuffer, rows: number, d: number, ids: NativeBuffer, n: number, idBase: number, dout: NativeBuffer): void;
  crossEntropyForward(logits: NativeBuffer, target: NativeBuffer, loss: NativeBuffer, lse: NativeBuffer, R: number, C: number): void;
  crossEntropyBackward(
    logits: NativeBuffer,
    target: NativeBuffer,
    lse: NativeBuffer,
    dloss: NativeBuffer,
    dlogits: NativeBuffer,
    R: number,
    C: number,
    accumulate: boolean,
  ): void;
  /** sparse (CSR) targets over columns [c0, c0 + W) of C; lse and stx run over the chunks (kernels.h) */
  multinomialNllForward(
    logits: NativeBuffer,
    R: number,
    W: number,
    c0: number,
    C: number,
    rowPtr: NativeBuffer,
    cols: NativeBuffer,
    values: NativeBuffer | null,
    nnz: number,
    lse: NativeBuffer,
    stx: NativeBuffer,
    loss: NativeBuffer,
    first: boolean,
    last: boolean,
  ): void;
  multinomialNllBackward(
    logits: NativeBuffer,
    R: number,
    W: number,
    c0: number,
    C: number,
    rowPtr: NativeBuffer,
    cols: NativeBuffer,
    values: NativeBuffer | null,
    nnz: number,
    lse: NativeBuffer,
    dloss: NativeBuffer,
    dlogits: NativeBuffer,
    accumulate: boolean,
  ): void;
  squaredDistanceForward(a: NativeBuffer, b: NativeBuffer, n: number, out: NativeBuffer): void;
  squaredDistanceBackward(a: NativeBuffer, b: NativeBuffer, g: NativeBuffer, da: NativeBuffer, n: number, accumulate: boolean): void;
  /** raw Philox4x32-10 words of nBlocks counters from (c1:c0, c2, c3) under key (k0, k1) */
  philoxBlocks(out: NativeBuffer, nBlocks: number, c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): void;
  dropoutForward(
    x: NativeBuffer,
    y: NativeBuffer,
    n: number,
    seed: number,
    site: number,
    step: number,
    threshold: number,
    scale: number,
  ): void;
  dropoutBackward(
    dy: NativeBuffer,
    dx: NativeBuffer,
    n: number,
    seed: number,
    site: number,
    step: number,
    threshold: number,
    scale: number,
    accumulate: boolean,
  ): void;
  adam(
    p: NativeBuffer,
    g: NativeBuffer,
    m: NativeBuffer,
    v: NativeBuffer,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    step: number,
    /** int32 flag (element offHalt): a non-zero value, read on the device, skips the update */
    halt: NativeBuffer | null,
    offHalt: number,
  ): void;
  /** the step's guard: flag[offFlag] = step if it is 0 and x has a NaN/Inf; bits (may be null) get x's bit patterns */
  flagNonfinite(
    x: NativeBuffer,
    n: number,
    step: number,
    flag: NativeBuffer,
    offFlag: number,
    bits: NativeBuffer | null,
    offBits: number,
  ): void;
  /** out (+)= a * b elementwise */
  mul(a: NativeBuffer, b: NativeBuffer, out: NativeBuffer, n: number, accumulate: boolean): void;
  tanhForward(x: NativeBuffer, y: NativeBuffer, n: number): void;
  /** dx (+)= dy * (1 - y^2), y the saved output */
  tanhBackward(y: NativeBuffer, dy: NativeBuffer, dx: NativeBuffer, n: number, accumulate: boolean): void;
  /** y = exp(scale * x) */
  expForward(x: NativeBuffer, scale: number, y: NativeBuffer, n: number): void;
  /** dx (+)= scale * dy * y, y the saved output */
  expBackward(y: NativeBuffer, dy: NativeBuffer, scale: number, dx: NativeBuffer, n: number, accumulate: boolean): void;
  /** y = log sigmoid(x), stable for every finite x */
  logSigmoidForward(x: NativeBuffer, y: NativeBuffer, n: number): void;
  /** dx (+)= dy * sigmoid(-x) */
  logSigmoidBackward(x: NativeBuffer, dy: NativeBuffer, dx: NativeBuffer, n: number, accumulate: boolean): void;
  /** out[r] (+)= sum_c X[r, c] for X [R, C] (colSum reduces over rows instead) */
  rowSumForward(X: NativeBuffer, R: number, C: number, out: NativeBuffer, accumulate: boolean): void;
  /** dX[r, c] (+)= dout[r] */
  rowSumBackward(dout: NativeBuffer, R: number, C: number, dX: NativeBuffer, accumulate: boolean): void;

  // CPU-only fast kernels (native/include/kernels_cpu.h); a cuda buffer is an Error.
  /** fused h [n,d] @ W [C,d]^T + softmax cross-entropy: loss, lse and (dh not null) the unit input gradient */
  linearXentForward(
    h: NativeBuffer,
    W: NativeBuffer,
    target: NativeBuffer,
    loss: NativeBuffer,
    lse: NativeBuffer,
    dh: NativeBuffer | null,
    n: number,
    C: number,
    d: number,
  ): void;
  /** linearXentForward on W frozen in BF16: Wtb = bf16PackB(true, W, d, C), Wrb = bf16PackB(false, W, C, d) */
  linearXentBf16Forward(
    h: NativeBuffer,
    W: NativeBuffer,
    Wtb: NativeBuffer,
    Wrb: NativeBuffer,
    target: NativeBuffer,
    loss: NativeBuffer,
    lse: NativeBuffer,
    dh: NativeBuffer | null,
    n: number,
    C: number,
    d: number,
  ): void;
  /** the CPU has AVX512_BF16 (and CLLM4REC_CPU_ISA does not cap it) */
  bf16Supported(): boolean;
  /** the clones the CPU kernels run (after CLLM4REC_CPU_ISA): 2 AVX-512, 1 AVX2 + FMA, 0 baseline x86-64 */
  cpuIsa(): 0 | 1 | 2;
  /** int32 words of a [K, N] matrix packed to BF16 panels */
  bf16PackedWords(K: number, N: number): number;
  /** packs op(B) [K, N] (B stored [N, K] when transB) into dst (an int32 buffer of bf16PackedWords) */
  bf16PackB(transB: boolean, B: NativeBuffer, K: number, N: number, dst: NativeBuffer): void;
  /** C = alpha op(A) @ Bp + beta C (+ bias); A rounded to BF16, fp32 accumulation */
  gemmBf16(
    transA: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: NativeBuffer,
    offA: number,
    Bp: NativeBuffer,
    beta: number,
    C: NativeBuffer,
    offC: number,
    bias: NativeBuffer | null,
  ): void;
  /** measured peak FLOP/s on all threads: kind 0 fp32 FMA, 1 BF16 dot products (0 when missing) */
  fmaPeak(kind: 0 | 1, seconds: number): { flops: number; lanes: number };
}

/**
 * Addon files to try, best first: CLLM4REC_ADDON when set; else the CUDA build (cmake,
 * `npm run build:native`) unless the CPU build (node-gyp, `npm ci`) is newer — a CUDA
 * build left over from older sources must not shadow a fresh CPU build.
 */
function candidates(): string[] {
  if (process.env.CLLM4REC_ADDON) return [process.env.CLLM4REC_ADDON];
  const here = path.resolve(__dirname, "..", "..");
  const out: string[] = [];
  for (const r of [here, path.resolve(here, "..")]) {
    // dist/ and dist-test/src/ layouts
    const cuda = path.join(r, "build-cuda", "Release", "cllm4rec_cuda.node");
    const cpu = path.join(r, "build", "Release", "cllm4rec.node");
    const mtime = (f: string) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : -1);
    if (mtime(cpu) > mtime(cuda)) out.push(cpu, cuda);
    else out.push(cuda, cpu);
  }
  return out;
}

let loaded: NativeAddon | null = null;
let loadedFrom = "";

/**
 * libgomp's team threads spin at every barrier for about 300,000 iterations before they sleep.
 * When a machine has more runnable threads than cores, the spinning thread holds the core its
 * partner needs: a 2-thread pretraining step ran 3-4x slower at load 8 than with a short spin.
 * A short spin (read by libgomp once, when the addon loads it) keeps that; the user's own
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT wins, and CLLM4REC_GOMP_SPINCOUNT sets ours. The variable
 * is removed again after the load, so child processes (e.g. the torch peer of the benchmarks)
 * start with the user's environment.
 */
const DEFAULT_GOMP_SPINCOUNT = "1000";
function shortOpenMpSpin(): () => void {
  const env = process.env;
  if (env.OMP_WAIT_POLICY !== undefined || env.GOMP_SPINCOUNT !== undefined) return () => {};
  env.GOMP_SPINCOUNT = env.CLLM4REC_GOMP_SPINCOUNT ?? DEFAULT_GOMP_SPINCOUNT;
  return () => {
    delete env.GOMP_SPINCOUNT;
  };
}

/** The addon, loaded once: the CUDA build when present and loadable, else the CPU build. */
export function native(): NativeAddon {
  if (loaded) return loaded;
  const restoreEnv = shortOpenMpSpin();
  const errors: string[] = [];
  try {
    for (const file of candidates()) {
      if (!fs.existsSync(file)) continue;
      try {
        loaded = require(file) as NativeAddon;
        loadedFrom = file;
        return loaded;
      } catch (e) {
        errors.push(`${file}: ${(e as Error).message}`);
      }
    }
  } finally {
    restoreEnv();
  }
  throw new Error(
    "cllm4rec: native addon not found or not loadable. Run `npm ci` (builds the CPU addon) " +
      "or `npm run build:native` (CPU + CUDA).\n" +
      errors.join("\n"),
  );
}

/** The CPU kernels' instruction set in words, e.g. "AVX2 + FMA kernels" (CLLM4REC_CPU_ISA applied). */
export function cpuKernels(): string {
  const n = native();
  const isa = ["portable", "AVX2 + FMA", "AVX-512"][n.cpuIsa()] ?? "portable";
  return `${isa}${n.bf16Supported() ? " + AVX512_BF16" : ""} kernels`;
}

export function addonPath(): string {
  native();
  return loadedFrom;
}
