// Per-kernel time breakdown (`--profile`): every native entry point is wrapped once so
// each call adds its wall time, and its FLOPs or bytes moved, to a row named by the
// kernel (GEMMs also by layout and shape). CPU kernels run synchronously, so the time is
// the kernel's; on CUDA the wrapper synchronises after every call (slower, but honest).
import { native } from "./native";

export interface ProfileRow {
  /** kernel name, e.g. "gemm NT 600x50257x128" or "layernormForward" */
  op: string;
  calls: number;
  ms: number;
  /** CPU time of the whole process during the calls (all threads): cpuMs / ms near the thread
   *  count means the kernel ran in parallel; far below it, it waited (a busy machine) */
  cpuMs: number;
  /** floating-point operations in all calls (0 when the kernel is counted in bytes) */
  flops: number;
  /** bytes read + written in all calls (estimated from the arguments; 0 for GEMMs) */
  bytes: number;
}

export interface ProfileReport {
  /** wall time between enableProfile() (or the last reset) and the report */
  wallMs: number;
  /** time inside native calls */
  nativeMs: number;
  /** time inside GEMM calls (including fused head + loss kernels, which are GEMM-bound) */
  gemmMs: number;
  rows: ProfileRow[];
}

type Fn = (...args: unknown[]) => unknown;
interface Cost {
  flops?: number;
  bytes?: number;
  key?: string;
}

const num = (v: unknown): number => (typeof v === "number" ? v : 0);
const F = 4; // bytes per f32

// FLOPs or bytes of one call from its arguments, per the signatures in native.ts.
const COSTS: Record<string, (a: unknown[]) => Cost> = {
  gemm: (a) => {
    const [tA, tB, M, N, K] = a as [boolean, boolean, number, number, number];
    const batch = num(a[16]) || 1;
    return { flops: 2 * M * N * K * batch, key: `gemm ${tA ? "T" : "N"}${tB ? "T" : "N"} ${M}x${N}x${K}${batch > 1 ? ` x${batch}` : ""}` };
  },
  gemmBf16: (a) => ({
    flops: 2 * num(a[1]) * num(a[2]) * num(a[3]),
    key: `gemmBf16 ${a[0] ? "T" : "N"}N ${num(a[1])}x${num(a[2])}x${num(a[3])}`,
  }),
  gemmGelu: (a) => ({ flops: 2 * num(a[0]) * num(a[1]) * num(a[2]), key: `gemmGelu NN ${num(a[0])}x${num(a[1])}x${num(a[2])}` }),
  linearXentForward: (a) => ({ flops: (a[5] ? 4 : 2) * num(a[6]) * num(a[7]) * num(a[8]) }),
  linearXentBf16Forward: (a) => ({ flops: (a[7] ? 4 : 2) * num(a[8]) * num(a[9]) * num(a[10]) }),
  // attention: the causal half of the QK^T and PV products (forward), four products backward
  attentionForward: (a) => ({ flops: (4 * num(a[10]) * num(a[11]) * num(a[12]) * num(a[13]) * num(a[14])) / 2 }),
  attentionBackward: (a) => ({ flops: (8 * num(a[16]) * num(a[17]) * num(a[18]) * num(a[19]) * num(a[20])) / 2 }),
  layernormForward: (a) => ({ bytes: 2 * F * num(a[6]) * num(a[7]) }),
  layernormBackward: (a) => ({ bytes: 3 * F * num(a[8]) * num(a[9]) }),
  geluForward: (a) => ({ bytes: 2 * F * num(a[2]) }),
  geluBackward: (a) => ({ bytes: 3 * F * num(a[3]) }),
  add: (a) => ({ bytes: (a[2] ? 3 : 2) * F * num(a[5]) + (a[6] ? F * num(a[5]) : 0) }),
  fill: (a) => ({ bytes: F * num(a[2]) }),
  sum: (a) => ({ bytes: F * num(a[1]) }),
  colSum: (a) => ({ bytes: F * num(a[1]) * num(a[2]) }),
  copy: (a) => ({ bytes: 2 * F * num(a[4]) }),
  copyStrided: (a) => ({ bytes: (a[11] ? 3 : 2) * F * num(a[8]) * num(a[9]) * num(a[10]) }),
  alloc: (a) => ({ bytes: F * num(a[2]) }),
  upload: (a) => ({ bytes: F * ((a[1] as { length?: number })?.length ?? 0) }),
  download: (a) => ({ bytes: F * ((a[1] as { length?: number })?.length ?? 0) }),
  gatherRows: (a) => ({ bytes: 2 * F * num(a[4]) * num(a[2]) }),
  scatterAddRows: (a) => ({ bytes: 3 * F * num(a[4]) * num(a[2]) }),
  crossEntropyForward: (a) => ({ bytes: F * num(a[4]) * num(a[5]) }),
  crossEntropyBackward: (a) => ({ bytes: 2 * F * num(a[5]) * num(a[6]) }),
  multinomialNllForward: (a) => ({ bytes: F * num(a[1]) * num(a[2]) + 8 * num(a[8]) }),
  multinomialNllBackward: (a) => ({ bytes: 2 * F * num(a[1]) * num(a[2]) + 8 * num(a[8]) }),
  dropoutForward: (a) => ({ bytes: 2 * F * num(a[2]) }),
  dropoutBackward: (a) => ({ bytes: (a[8] ? 3 : 2) * F * num(a[2]) }),
  adam: (a) => ({ bytes: 7 * F * num(a[4]) }),
};

// Calls that are bookkeeping, not kernels: never timed (they are cheap and frequent).
const SKIP = new Set([
  "fmaPeak",
  "bf16Supported",
  "cpuIsa",
  "bf16PackedWords",
  "isFreed",
  "numel",
  "deviceOf",
  "dtypeOf",
  "stats",
  "resetStats",
  "numThreads",
  "setNumThreads",
  "cudaDeviceCount",
  "cudaDeviceName",
  "hasCuda",
  "free",
  "synchronize",
]);

interface Acc {
  calls: number;
  ms: number;
  cpuMs: number;
  flops: number;
  bytes: number;
}

let originals: Map<string, Fn> | null = null;
let table = new Map<string, Acc>();
let startedAt = 0;

/** True while the profiler wraps the addon. */
export function profiling(): boolean {
  return originals !== null;
}

/** Wraps every native kernel so its calls are timed; `sync` synchronises after each (CUDA). */
export function enableProfile(opts: { sync?: boolean } = {}): void {
  if (originals) return;
  const addon = native() as unknown as Record<string, unknown>;
  originals = new Map();
  for (const name of Object.keys(addon)) {
    const fn = addon[name];
    if (typeof fn !== "function" || SKIP.has(name)) continue;
    originals.set(name, fn as Fn);
    const cost = COSTS[name];
    const sync = opts.sync ? (addon.synchronize as Fn) : null;
    addon[name] = function profiled(...args: unknown[]) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const r = (fn as Fn).apply(addon, args);
      if (sync) sync.call(addon);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const cu = process.cpuUsage(c0);
      const c = cost ? cost(args) : {};
      const key = c.key ?? name;
      let e = table.get(key);
      if (!e) {
        e = { calls: 0, ms: 0, cpuMs: 0, flops: 0, bytes: 0 };
        table.set(key, e);
      }
      e.calls++;
      e.ms += ms;
      e.cpuMs += (cu.user + cu.system) / 1e3;
      e.flops += c.flops ?? 0;
      e.bytes += c.bytes ?? 0;
      return r;
    };
  }
  resetProfile();
}

/** Restores the unwrapped addon. */
export function disableProfile(): void {
  if (!originals) return;
  const addon = native() as unknown as Record<string, unknown>;
  for (const [name, fn] of originals) addon[name] = fn;
  originals = null;
}

export function resetProfile(): void {
  table = new Map();
  startedAt = performance.now();
}

export function profileReport(): ProfileReport {
  const rows: ProfileRow[] = [...table].map(([op, e]) => ({ op, ...e })).sort((a, b) => b.ms - a.ms);
  const nativeMs = rows.reduce((s, r) => s + r.ms, 0);
  const gemmMs = rows.filter((r) => r.op.startsWith("gemm") || r.op.startsWith("linearXent")).reduce((s, r) => s + r.ms, 0);
  return { wallMs: performance.now() - startedAt, nativeMs, gemmMs, rows };
}

/** The report as a text table: op, calls, ms, share of wall time, GFLOP/s or GB/s. */
export function formatProfile(r: ProfileReport, maxRows = 30): string {
  const pct = (ms: number) => (r.wallMs > 0 ? (100 * ms) / r.wallMs : 0).toFixed(1);
  const lines = [
    `profile: ${r.wallMs.toFixed(0)} ms wall, ${r.nativeMs.toFixed(0)} ms in native calls (${pct(r.nativeMs)}%), ` +
      `${r.gemmMs.toFixed(0)} ms in GEMMs (${pct(r.gemmMs)}%), ${(r.wallMs - r.nativeMs).toFixed(0)} ms in JavaScript`,
    `${"op".padEnd(34)} ${"calls".padStart(7)} ${"ms".padStart(10)} ${"% wall".padStart(7)} ${"cpu/wall".padStart(8)} ${"rate".padStart(15)}`,
  ];
  for (const row of r.rows.slice(0, maxRows)) {
    const s = row.ms / 1e3;
    const rate =
      row.flops > 0 ? `${(row.flops / s / 1e9).toFixed(1)} GFLOP/s` : row.bytes > 0 ? `${(row.bytes / s / 1e9).toFixed(1)} GB/s` : "";
    const par = row.ms > 0 ? (row.cpuMs / row.ms).toFixed(2) : "";
    lines.push(
      `${row.op.padEnd(34)} ${String(row.calls).padStart(7)} ${row.ms.toFixed(1).padStart(10)} ${pct(row.ms).padStart(7)} ${par.padStart(8)} ${rate.padStart(15)}`,
    );
  }
  if (r.rows.length > maxRows) lines.push(`(${r.rows.length - maxRows} more rows in the JSON)`);
  return lines.join("\n");
}
