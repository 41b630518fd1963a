// Runs bench/reference/torch_bench.py (PyTorch on the same machine) for a suite and
// attaches its timings to our rows: both do the same work per iteration, so
// ours/torch throughput = torch ms / our ms.
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import type { Ctx, Row } from "./common";

export interface ReferenceRun {
  ok: boolean;
  message: string;
  torch?: string;
  threads?: number;
  blas?: string;
  /** OpenBLAS's kernel set (openblas_get_corename) and build config, when torch runs on OpenBLAS */
  openblas?: { core: string; config: string } | null;
  /** OPENBLAS_* overrides that were set here and removed for the peer's process */
  cleared?: string[];
  skipped?: string[];
  cases?: Record<string, { ms: number; minMs: number; n: number }>;
}

/** An OpenBLAS folder for torch when its own libblas.so.3 is the slow netlib one (see bench/README.md). */
export function torchLibs(root: string): string | null {
  const env = process.env.CLLM4REC_BENCH_TORCH_LIBS;
  if (env !== undefined) return env || null;
  const local = path.join(root, ".cache", "openblas", "usr", "lib", "x86_64-linux-gnu", "openblas-pthread");
  return fs.existsSync(path.join(local, "libblas.so.3")) ? local : null;
}

function python(): string {
  if (process.env.CLLM4REC_BENCH_PYTHON) return process.env.CLLM4REC_BENCH_PYTHON;
  return fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

export function referenceDisabled(): string | null {
  if (process.env.CLLM4REC_BENCH_REFERENCE === "0") return "CLLM4REC_BENCH_REFERENCE=0";
  return null;
}

/** spec: the suite's cases in the script's format (see torch_bench.py). */
export function runReference(root: string, ctx: Ctx, suite: string, spec: Record<string, unknown>): ReferenceRun {
  const script = path.join(root, "bench", "reference", "torch_bench.py");
  if (!fs.existsSync(script)) return { ok: false, message: `${script} not found` };
  // the script stops starting cases after budgetS; the hard timeout is a backstop
  const budgetS = Math.max(5, Math.min(ctx.timeLeft() - 15, 300));
  const input = JSON.stringify({
    suite,
    device: ctx.device,
    threads: ctx.threads,
    iterations: ctx.quick ? 1 : 5,
    warmup: 1,
    budgetS,
    ...spec,
  });
  const libs = torchLibs(root);
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(ctx.threads), OMP_NUM_THREADS: String(ctx.threads) };
  // a peer counts only at its best: let OpenBLAS pick its kernels and cache sizes for this
  // CPU (a CI image may pin OPENBLAS_CORETYPE=Haswell, half the speed of AVX-512 kernels)
  const cleared: string[] = [];
  for (const k of ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"])
    if (env[k] !== undefined) {
      cleared.push(`${k}=${env[k]}`);
      delete env[k];
    }
  if (libs) env.LD_LIBRARY_PATH = [libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  const r = spawnSync(python(), [script], {
    input,
    env,
    encoding: "utf8",
    timeout: Math.round((budgetS + 120) * 1000),
    maxBuffer: 16 << 20,
  });
  if (r.error) return { ok: false, message: `${python()}: ${r.error.message}` };
  let parsed: {
    error?: string;
    torch?: string;
    threads?: number;
    blas?: string;
    openblas?: ReferenceRun["openblas"];
    skipped?: string[];
    cases?: ReferenceRun["cases"];
  } = {};
  try {
    parsed = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
  } catch {
    return { ok: false, message: `torch reference exited ${r.status}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}` };
  }
  if (parsed.error || r.status !== 0) return { ok: false, message: `torch reference: ${parsed.error ?? `exit ${r.status}`}` };
  const skipped = parsed.skipped?.length ? `; skipped: ${parsed.skipped.join(", ")}` : "";
  const core = parsed.openblas ? ` (OpenBLAS core ${parsed.openblas.core}: ${parsed.openblas.config})` : "";
  const clearedNote = cleared.length ? `; cleared for the peer: ${cleared.join(", ")}` : "";
  return {
    ok: true,
    message: `PyTorch ${parsed.torch} on ${ctx.device}, ${parsed.threads} threads, BLAS ${parsed.blas ?? "?"}${core}${clearedNote}${skipped}`,
    torch: parsed.torch,
    threads: parsed.threads,
    blas: parsed.blas,
    openblas: parsed.openblas,
    cleared,
    skipped: parsed.skipped,
    cases: parsed.cases,
  };
}

/**
 * Interleaved rounds (ours, peer, ours, peer, ...) merged into one result: each of our rows
 * is the round whose time is the median for that case, with the spread of all rounds; the
 * peer's time per case is the median of its rounds. A slow spell of a shared machine then
 * hits both sides instead of one.
 */
export function mergeRounds(rounds: { rows: Row[]; ref: ReferenceRun | null }[]): { rows: Row[]; ref: ReferenceRun | null } {
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const rows = rounds[0].rows.map((first) => {
    const same = rounds.map((r) => r.rows.find((x) => x.case === first.case)).filter((x): x is Row => !!x);
    const ms = same.map((x) => x.ms);
    const med = median(ms);
    const pick = same.reduce((best, x) => (Math.abs(x.ms - med) < Math.abs(best.ms - med) ? x : best), same[0]);
    const metrics = { ...pick.metrics };
    for (const k of pick.perRound ?? []) metrics[k] = median(same.map((x) => Number(x.metrics[k])));
    return {
      ...pick,
      metrics,
      ms: med,
      minMs: Math.min(...same.map((x) => x.minMs)),
      rounds: ms.length,
      spread: [Math.min(...ms), Math.max(...ms)] as [number, number],
    };
  });
  const refs = rounds.map((r) => r.ref).filter((r): r is ReferenceRun => !!r && r.ok && !!r.cases);
  if (refs.length === 0) return { rows, ref: rounds[rounds.length - 1].ref };
  const cases: NonNullable<ReferenceRun["cases"]> = {};
  for (const key of Object.keys(refs[0].cases ?? {})) {
    const all = refs.map((r) => r.cases?.[key]).filter((c): c is { ms: number; minMs: number; n: number } => !!c);
    const ms = all.map((c) => c.ms);
    cases[key] = {
      ms: median(ms),
      minMs: Math.min(...all.map((c) => c.minMs)),
      n: all.reduce((s, c) => s + c.n, 0),
      rounds: ms.length,
      spread: [Math.min(...ms), Math.max(...ms)],
    } as { ms: number; minMs: number; n: number };
  }
  const rest = rounds.length > 1 ? `; ${rounds.length} interleaved rounds (median, spread min-max per round)` : "";
  return { rows, ref: { ...refs[refs.length - 1], message: refs[refs.length - 1].message + rest, cases } };
}

/** Fills row.reference (torch's value of the primary metric) and row.ratio (ours / torch). */
export function attachReference(rows: Row[], ref: ReferenceRun): void {
  if (!ref.ok || !ref.cases) return;
  for (const r of rows) {
    const c = ref.cases[r.case];
    if (!c || !r.primary) continue;
    const ours = r.metrics[r.primary];
    if (typeof ours !== "number") continue;
    r.ratio = c.ms / r.ms;
    r.reference = ours / r.ratio;
    const spread = (c as { spread?: [number, number] }).spread;
    if (spread) r.referenceSpread = spread;
  }
}
