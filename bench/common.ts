// Shared bench plumbing: the run context (device, quick mode, time budget, assumed
// physical limits), timing through tinybench, random device buffers, and tables.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { Bench } from "tinybench";
import { native, addonPath, Tensor } from "../src/engine";
import type { Device } from "../src/engine";

export interface Limits {
  /** assumed fp32 peak, FLOP/s */
  peakFlops: number;
  peakHow: string;
  /** measured BF16 dot-product peak (CPU with AVX512_BF16), FLOP/s; 0 when absent */
  bf16PeakFlops?: number;
  /** assumed memory bandwidth, bytes/s (measured copy on CPU, spec sheet on CUDA) */
  bandwidth: number;
  bandwidthHow: string;
}

export interface Ctx {
  device: Device;
  deviceName: string;
  quick: boolean;
  threads: number;
  limits: Limits;
  /** seconds left of the run's budget (Infinity when unbounded) */
  timeLeft(): number;
}

export interface Row {
  case: string;
  /** median latency per iteration */
  ms: number;
  minMs: number;
  samples: number;
  /** the row's figures in print order */
  metrics: Record<string, number | string>;
  /** the metric compared against the reference (higher is better) */
  primary?: string;
  /** the reference's value of the primary metric and ours/reference */
  reference?: number;
  ratio?: number;
  /** interleaved rounds merged into this row (bench/run.ts) and their min/max median ms */
  rounds?: number;
  spread?: [number, number];
  /** the peer's min/max median ms over the rounds */
  referenceSpread?: [number, number];
  /** metrics measured against their own reference in each round (e.g. a peak measured
   * right after the case): merged as their median over the rounds */
  perRound?: string[];
}

export interface SuiteResult {
  suite: string;
  rows: Row[];
  notes: string[];
  extra?: Record<string, unknown>;
}

// ---- timing -----------------------------------------------------------------------------

export interface TimeOpts {
  /** minimum measured iterations */
  iterations: number;
  /** minimum measured time, ms (tinybench runs until both minimums are met) */
  timeMs?: number;
  warmupIterations?: number;
}

/** Times fn (which must synchronise the device before returning) with tinybench. */
export function time(name: string, fn: () => void, o: TimeOpts): { ms: number; minMs: number; samples: number } {
  const bench = new Bench({
    name,
    iterations: o.iterations,
    time: o.timeMs ?? 0,
    warmup: (o.warmupIterations ?? 1) > 0,
    warmupIterations: o.warmupIterations ?? 1,
    warmupTime: 0,
    throws: true,
  });
  // tinybench calls a task's function once when it is added, to see whether it returns a
  // promise; that call is a no-op here so a slow case is not run an extra, untimed time
  let probed = false;
  bench.add(name, () => {
    if (!probed) {
      probed = true;
      return;
    }
    fn();
  });
  bench.runSync();
  const r = bench.tasks[0].result;
  if (!r) throw new Error(`bench ${name}: no result`);
  if (r.error) throw r.error;
  const lat = r.latency;
  return { ms: lat.p50 ?? lat.mean, minMs: lat.min, samples: lat.samples.length };
}

export function sync(): void {
  native().synchronize();
}

// ---- data ----------------------------------------------------------------------------------

/** The seeded LCG every bench draws its inputs from. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** n normal samples (Box–Muller) with the given std. */
export function normals(n: number, std: number, seed: number): Float32Array {
  const rnd = lcg(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(Math.max(rnd(), 1e-12))) * std,
      a = 2 * Math.PI * rnd();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

const CHUNK = 1 << 20;
const chunks = new Map<string, Float32Array>();

/** A host array of n values tiled from one seeded normal chunk: random enough for timing, fast to make. */
export function tiledNormals(n: number, std: number, seed = 1): Float32Array {
  const key = `${std}:${seed}`;
  let c = chunks.get(key);
  if (!c) {
    c = normals(CHUNK + 7, std, seed);
    chunks.set(key, c);
  }
  const out = new Float32Array(n);
  // a prime-ish shift per tile so rows of different widths do not repeat in lockstep
  for (let off = 0, k = 0; off < n; off += CHUNK, k++) {
    const len = Math.min(CHUNK, n - off);
    out.set(c.subarray(k % 7, (k % 7) + len), off);
  }
  return out;
}

/** A tensor on the device filled with tiled normals (uploaded chunk by chunk; no full host copy). */
export function randomTensor(shape: number[], device: Device, std = 1, seed = 1, requiresGrad = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = Tensor.zeros(shape, { device, requiresGrad });
  const chunk = Tensor.from(tiledNormals(Math.min(n, CHUNK), std, seed), [Math.min(n, CHUNK)], { device });
  for (let off = 0; off < n; off += CHUNK) native().copy(t.buffer, off, chunk.buffer, 0, Math.min(CHUNK, n - off));
  chunk.dispose();
  return t;
}

// ---- machine and limits ---------------------------------------------------------------------

export function cpuInfo(): { model: string; logicalCpus: number; mhz: number; isa: string; flags: string[] } {
  const cpus = os.cpus();
  let text = "";
  try {
    text = fs.readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    /* not Linux */
  }
  const flags = (/^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? "").split(/\s+/);
  const mhzLine = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(text)?.[1] ?? NaN);
  const mhz = Number.isFinite(mhzLine) && mhzLine > 0 ? mhzLine : (cpus[0]?.speed ?? 0);
  const isa = flags.includes("avx512f") ? "avx512f" : flags.includes("avx2") && flags.includes("fma") ? "avx2+fma" : "sse/neon";
  return {
    model: cpus[0]?.model.trim() ?? "unknown",
    logicalCpus: cpus.length,
    mhz,
    isa,
    flags: flags.filter((f) => /^(avx|fma|amx)/.test(f)),
  };
}

export function cpuPeak(): { flops: number; how: string } {
  const c = cpuInfo();
  const lanes = c.isa === "avx512f" ? 16 : c.isa === "avx2+fma" ? 8 : 4;
  const flops = c.logicalCpus * c.mhz * 1e6 * 2 * lanes * 2;
  return {
    flops,
    how:
      `${c.logicalCpus} logical CPUs x ${c.mhz} MHz ("cpu MHz" in /proc/cpuinfo) x 2 FMA units x ${lanes} fp32 lanes (${c.isa}) x 2 flop ` +
      `= ${(flops / 1e9).toFixed(1)} GFLOP/s assumed; turbo may exceed it, hyperthreads or a single FMA unit would lower it`,
  };
}

/** Spec-sheet fp32 (non-tensor-core) peak and HBM bandwidth for known GPUs. */
export function gpuLimits(name: string): { flops: number; bandwidth: number; how: string } {
  const n = name.toUpperCase();
  const table: [RegExp, number, number, string][] = [
    [/H200/, 67e12, 4.8e12, "H200 (H100 SXM compute): 67 TFLOP/s fp32, 4.8 TB/s HBM3e"],
    [/H100.*PCIE/, 51e12, 2.0e12, "H100 PCIe: 51 TFLOP/s fp32, 2.0 TB/s HBM2e"],
    [/H100/, 67e12, 3.35e12, "H100 SXM: 67 TFLOP/s fp32, 3.35 TB/s HBM3"],
    [/A100/, 19.5e12, 2.0e12, "A100 80GB: 19.5 TFLOP/s fp32, 2.0 TB/s"],
    [/L4\b/, 30.3e12, 0.3e12, "L4: 30.3 TFLOP/s fp32, 0.3 TB/s"],
  ];
  for (const [re, f, b, how] of table) if (re.test(n)) return { flops: f, bandwidth: b, how: `spec sheet for '${name}': ${how}` };
  return { flops: 67e12, bandwidth: 3.35e12, how: `device '${name}' unknown; assumed H100 SXM: 67 TFLOP/s fp32 (non-tensor), 3.35 TB/s` };
}

/** Copy bandwidth (read + write bytes / s) of native().copy over a 256 MiB buffer. */
export function measureCopyBandwidth(device: Device, quick: boolean): { bytesPerS: number; ms: number } {
  const n = 64 << 20; // floats
  const a = Tensor.zeros([n], { device });
  const b = Tensor.zeros([n], { device });
  native().fill(a.buffer, 1, n);
  native().fill(b.buffer, 2, n);
  sync();
  const t = time(
    "copy",
    () => {
      native().copy(b.buffer, 0, a.buffer, 0, n);
      sync();
    },
    { iterations: quick ? 4 : 10, warmupIterations: 1 },
  );
  a.dispose();
  b.dispose();
  return { bytesPerS: (2 * 4 * n) / (t.ms / 1000), ms: t.ms };
}

export function gitCommit(root: string): string {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    try {
      return fs.readFileSync(path.join(root, "COMMIT"), "utf8").trim() || "unknown";
    } catch {
      return "unknown";
    }
  }
}

export function environment(root: string, ctx: Ctx): Record<string, unknown> {
  const c = cpuInfo();
  return {
    machine: {
      cpu: c.model,
      cores: c.logicalCpus,
      cpuMHz: c.mhz,
      isa: c.isa,
      cpuFlags: c.flags,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      hostname: os.hostname(),
    },
    device: ctx.device,
    deviceName: ctx.deviceName,
    addon: path.relative(root, addonPath()),
    threads: ctx.threads,
    node: process.version,
    commit: gitCommit(root),
    date: new Date().toISOString(),
    quick: ctx.quick,
    limits: ctx.limits,
  };
}

// ---- rows and tables ------------------------------------------------------------------------

export function fmt(v: number | string | undefined): string {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e6) return v.toExponential(3);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

export function printTable(title: string, rows: Row[], hasReference: boolean): string {
  const keys: string[] = [];
  for (const r of rows) for (const k of Object.keys(r.metrics)) if (!keys.includes(k)) keys.push(k);
  const rounds = rows.some((r) => (r.rounds ?? 1) > 1);
  const head = ["case", "median ms", "min ms", "n", ...(rounds ? ["rounds", "round ms min-max"] : []), ...keys];
  if (hasReference) head.push("torch", "torch ms min-max", "ours/torch");
  const body = rows.map((r) => {
    const cells = [r.case, fmt(r.ms), fmt(r.minMs), String(r.samples)];
    if (rounds) cells.push(String(r.rounds ?? 1), r.spread ? `${fmt(r.spread[0])}-${fmt(r.spread[1])}` : "-");
    cells.push(...keys.map((k) => fmt(r.metrics[k])));
    if (hasReference) {
      const rs = r.referenceSpread;
      cells.push(
        r.reference !== undefined ? `${fmt(r.reference)} ${r.primary ?? ""}`.trim() : "-",
        rs ? `${fmt(rs[0])}-${fmt(rs[1])}` : "-",
        r.ratio !== undefined ? r.ratio.toFixed(2) : "-",
      );
    }
    return cells;
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const out = [`== ${title}`, line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
  console.log(out);
  return out;
}

/** A row from a timing and a count per iteration. */
export function row(
  name: string,
  t: { ms: number; minMs: number; samples: number },
  metrics: Record<string, number | string>,
  primary?: string,
): Row {
  return { case: name, ms: t.ms, minMs: t.minMs, samples: t.samples, metrics, primary };
}

export function fracPeak(flops: number, ms: number, ctx: Ctx): number {
  return flops / (ms / 1000) / ctx.limits.peakFlops;
}

/** The CPU's FMA-loop peak (kind 0 fp32, 1 BF16) measured now, on every engine thread, for
 * a case just timed: on a shared machine the host's load drifts within a run, so a case held
 * to a peak taken minutes earlier reads high or low by as much as the drift. */
export function pairedPeak(ctx: Ctx, kind: 0 | 1): number {
  return native().fmaPeak(kind, pairedPeakSeconds(ctx)).flops;
}

/** How long pairedPeak runs its loop. */
export const pairedPeakSeconds = (ctx: Ctx): number => (ctx.quick ? 0.1 : 0.4);
