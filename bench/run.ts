// `npm run bench [filter]`: runs the suites, prints a table per suite and writes
// bench/results/<suite>.json (plus bench.json in CLLM4REC_BENCH_OUT when set).
// Environment: CLLM4REC_BENCH_DEVICE=cpu|cuda, CLLM4REC_BENCH_QUICK=1,
// CLLM4REC_BENCH_OUT=<dir>, CLLM4REC_BENCH_BUDGET_S=<seconds>, CLLM4REC_BENCH_REFERENCE=0,
// CLLM4REC_BENCH_PYTHON=<python with torch>.
import * as fs from "node:fs";
import * as path from "node:path";
import { cpuKernels, native } from "../src/engine";
import type { Device } from "../src/engine";
import {
  type Ctx,
  type SuiteResult,
  type Limits,
  environment,
  cpuPeak,
  gpuLimits,
  measureCopyBandwidth,
  printTable,
  cpuInfo,
} from "./common";
import { runReference, attachReference, referenceDisabled, type ReferenceRun, mergeRounds } from "./reference";
import * as gemm from "./gemm.bench";
import * as multinomial from "./multinomial_nll.bench";
import * as crossEntropy from "./cross_entropy.bench";
import * as attention from "./attention.bench";
import * as gpt2 from "./gpt2.bench";
import * as trainStep from "./train_step.bench";
import * as scale from "./scale.bench";
import { runDataBench } from "./data.bench";
import * as serve from "./serve.bench";

const ROOT = path.resolve(__dirname, "..", "..");
// interleaved ours/peer rounds per suite with a torch reference (CLLM4REC_BENCH_ROUNDS)
const ROUNDS = Math.max(1, Number(process.env.CLLM4REC_BENCH_ROUNDS ?? (process.env.CLLM4REC_BENCH_QUICK === "1" ? 2 : 5)));

interface Suite {
  name: string;
  run(ctx: Ctx): Promise<SuiteResult>;
  /** the torch reference's spec for the rows we produced, or null for none */
  reference?(ctx: Ctx, res: SuiteResult): Record<string, unknown> | null;
}

async function dataSuite(): Promise<SuiteResult> {
  const r = (await runDataBench()) as Record<string, unknown>;
  const rows = (["firstEpoch", "laterEpoch"] as const).map((k) => {
    const e = r[k] as Record<string, number>;
    return {
      case: `${k === "firstEpoch" ? "first" : "later"} epoch (collab+content+rec)`,
      ms: e.totalMs,
      minMs: e.totalMs,
      samples: 1,
      metrics: {
        "tokens/s": e.tokensPerSecond,
        tokens: e.tokens,
        batches: e.batches,
        rows: e.rows,
        padding: e.padding,
        "collab ms": e.collaborativeMs,
        "content ms": e.contentMs,
        "rec ms": e.recMs,
      },
    };
  });
  return {
    suite: "data",
    rows,
    notes: [
      `bench/data.bench.ts runDataBench(): synthetic ${JSON.stringify(r.dataset)}, built in ${r.buildDatasetMs} ms, batch ${r.batchSize}; one timing per epoch`,
    ],
    extra: r,
  };
}

const has = (res: SuiteResult, key: string): boolean => res.rows.some((r) => r.case === key);

const SUITES: Suite[] = [
  {
    name: "gemm",
    run: gemm.run,
    reference: (_ctx, res) => ({ cases: gemm.gemmCases().filter((c) => has(res, c.key)) }),
  },
  {
    name: "multinomial_nll",
    run: multinomial.run,
    reference: (ctx, res) => ({
      cases: multinomial
        .headCases(ctx.quick)
        .filter((c) => has(res, multinomial.headKey(c.B, c.J, "fwd")))
        .map((c) => ({
          B: c.B,
          J: c.J,
          d: multinomial.HEAD_D,
          positives: multinomial.HEAD_POSITIVES,
          fwdKey: multinomial.headKey(c.B, c.J, "fwd"),
          bothKey: multinomial.headKey(c.B, c.J, "fwd+bwd"),
          iterations: c.B * c.J >= 256 * 100000 ? 2 : undefined,
        })),
    }),
  },
  {
    name: "cross_entropy",
    run: crossEntropy.run,
    reference: () => {
      const R = crossEntropy.XENT_ROWS,
        C = crossEntropy.XENT_CLASSES;
      return { cases: [{ R, C, fwdKey: `fwd R=${R} C=${C}`, bothKey: `fwd+bwd R=${R} C=${C}` }] };
    },
  },
  {
    name: "attention",
    run: attention.run,
    reference: () => ({
      cases: attention.ATTN_CASES.map((c) => ({ ...c, fwdKey: attention.attnKey(c, "fwd"), bothKey: attention.attnKey(c, "fwd+bwd") })),
    }),
  },
  { name: "train_step", run: trainStep.run, reference: trainStep.trainStepReference },
  { name: "data", run: dataSuite },
  { name: "serve", run: serve.run },
  // the heaviest suites last, so a time budget cuts them rather than the cheap ones
  { name: "scale", run: scale.run },
  {
    name: "gpt2",
    run: gpt2.run,
    // quick mode: no torch run (its GPT-2 alone would take about a minute on 2 cores)
    reference: (ctx) => {
      if (ctx.quick) return null;
      const c = gpt2.GPT2_SMALL,
        B = gpt2.GPT2_BATCH,
        T = gpt2.GPT2_T;
      return {
        iterations: 3,
        warmup: 1,
        cases: [{ d: c.nEmbd, layers: c.nLayer, heads: c.nHead, B, T, fwdKey: `forward ${B}x${T}`, bothKey: `fwd+input-bwd ${B}x${T}` }],
      };
    },
  },
];

function chooseDevice(): { device: Device; why: string } {
  const want = (process.env.CLLM4REC_BENCH_DEVICE ?? "cpu").toLowerCase();
  if (want !== "cuda") {
    if (want !== "cpu") return { device: "cpu", why: `CLLM4REC_BENCH_DEVICE=${want} is not cpu|cuda; using cpu` };
    return { device: "cpu", why: "" };
  }
  const n = native();
  if (!n.hasCuda)
    return { device: "cpu", why: "CUDA requested but this addon was built without CUDA (npm run build:native); falling back to cpu" };
  const count = n.cudaDeviceCount();
  if (count === 0) return { device: "cpu", why: "CUDA requested but no GPU answers (cudaGetDeviceCount = 0); falling back to cpu" };
  return { device: "cuda", why: "" };
}

/**
 * A measured peak is an upper bound or it is no peak: a row above its paired peak means the
 * FMA loop fell short of the machine's (as 16 ymm chains did on AVX2, spilling to the
 * stack), so that run's "of peak" figures are not to be quoted.
 */
function peakWarnings(rows: SuiteResult["rows"]): string[] {
  const over = rows.filter((r) => Number(r.metrics["of paired peak"] ?? 0) > 1);
  if (over.length === 0) return [];
  const list = over.map((r) => `${r.case} ${Number(r.metrics["of paired peak"]).toFixed(2)}`).join(", ");
  return [
    `WARNING: row(s) above the FMA loop's paired peak (${list}): the measured peak is below this machine's; do not quote 'of peak' from this run`,
  ];
}

async function main(): Promise<void> {
  const started = Date.now();
  const quick = process.env.CLLM4REC_BENCH_QUICK === "1";
  const filter = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const { device, why } = chooseDevice();
  if (why) console.log(`bench: ${why}`);
  const requestedCuda = (process.env.CLLM4REC_BENCH_DEVICE ?? "").toLowerCase() === "cuda";
  const budgetS = Number(process.env.CLLM4REC_BENCH_BUDGET_S ?? (requestedCuda ? 185 : quick ? 170 : Infinity));
  const timeLeft = () => budgetS - (Date.now() - started) / 1000;
  const n = native();
  const deviceName = device === "cuda" ? n.cudaDeviceName() : cpuInfo().model;

  // Physical limits, printed with how they were assumed.
  const copy = measureCopyBandwidth(device, quick);
  let limits: Limits;
  if (device === "cpu") {
    // the peak GEMMs are held to is measured (an FMA loop on every engine thread), with the
    // spec-derived figure beside it: boost clocks and split 512-bit units make the latter wrong
    const p = cpuPeak();
    const fp = n.fmaPeak(0, quick ? 0.5 : 2),
      bf = n.fmaPeak(1, quick ? 0.5 : 2);
    const measured = fp.flops > 0 ? fp.flops : p.flops;
    limits = {
      peakFlops: measured,
      bf16PeakFlops: bf.flops,
      peakHow:
        (fp.flops > 0
          ? `measured in this run: fp32 FMA loop (${fp.lanes} lanes) on ${n.numThreads()} threads = ${(fp.flops / 1e9).toFixed(1)} GFLOP/s` +
            (bf.flops > 0 ? `, BF16 vdpbf16ps loop = ${(bf.flops / 1e9).toFixed(1)} GFLOP/s` : "") +
            "; spec-derived: "
          : "") + p.how,
      bandwidth: copy.bytesPerS,
      bandwidthHow: `measured in this run: native().copy of 256 MiB, (read + write bytes) / time = ${(copy.bytesPerS / 1e9).toFixed(1)} GB/s`,
    };
  } else {
    const g = gpuLimits(deviceName);
    limits = {
      peakFlops: g.flops,
      peakHow: g.how,
      bandwidth: g.bandwidth,
      bandwidthHow: `${g.how}; measured native().copy in this run: ${(copy.bytesPerS / 1e9).toFixed(0)} GB/s (read + write)`,
    };
  }
  const ctx: Ctx = { device, deviceName, quick, threads: n.numThreads(), limits, timeLeft };
  const env = environment(ROOT, ctx);
  const m = env.machine as Record<string, unknown>;
  console.log(
    `bench: ${quick ? "quick" : "full"} run on ${device} (${deviceName}); ${m.cpu}, ${m.cores} logical CPUs, ${n.numThreads()} engine threads, ${cpuKernels()}; ` +
      `node ${process.version}; commit ${String(env.commit).slice(0, 12)}${Number.isFinite(budgetS) ? `; budget ${budgetS} s` : ""}`,
  );
  console.log(`bench: peak: ${limits.peakHow}`);
  console.log(`bench: bandwidth assumed: ${limits.bandwidthHow}`);
  if (device === "cpu") console.log("bench: CPU timings on a shared machine are noisy (other processes compete for the cores)");

  const resultsDir = path.join(ROOT, "bench", "results");
  fs.mkdirSync(resultsDir, { recursive: true });
  const outDir = process.env.CLLM4REC_BENCH_OUT;
  if (outDir) fs.mkdirSync(outDir, { recursive: true });
  const all: Record<string, unknown>[] = [];
  let failed = 0;

  const selected = SUITES.filter((s) => filter.length === 0 || filter.some((f) => s.name.includes(f)));
  if (selected.length === 0) throw new Error(`no suite matches ${filter.join(", ")} (suites: ${SUITES.map((s) => s.name).join(", ")})`);
  for (const s of selected) {
    const t0 = Date.now();
    let record: Record<string, unknown>;
    if (timeLeft() < 10) {
      console.log(`\n== ${s.name}: skipped, time budget spent`);
      record = { suite: s.name, ...env, skipped: "time budget spent" };
    } else {
      try {
        // suites with a peer run in interleaved rounds: ours, torch, ours, torch, ...
        const rounds: { rows: SuiteResult["rows"]; ref: ReferenceRun | null }[] = [];
        let res: SuiteResult | null = null;
        const wanted = s.reference && !referenceDisabled() ? ROUNDS : 1;
        for (let r = 0; r < wanted && (r === 0 || timeLeft() > 60); r++) {
          res = await s.run(ctx);
          let ref: ReferenceRun | null = null;
          if (s.reference) {
            const off = referenceDisabled();
            if (off) ref = { ok: false, message: `torch reference off (${off})` };
            else if (timeLeft() < 20) ref = { ok: false, message: "torch reference skipped (time budget)" };
            else {
              const spec = s.reference(ctx, res);
              ref = spec
                ? runReference(ROOT, ctx, s.name, spec)
                : { ok: false, message: "torch reference not run for this suite in quick mode" };
            }
          }
          rounds.push({ rows: res.rows, ref });
          if (!ref?.ok) break; // no peer: one round of ours is the measurement
        }
        if (!res) throw new Error("no round ran");
        const merged = mergeRounds(rounds);
        res.rows = merged.rows;
        const ref = merged.ref;
        if (ref) attachReference(res.rows, ref);
        res.notes.push(...peakWarnings(res.rows));
        const seconds = (Date.now() - t0) / 1000;
        console.log("");
        const table = printTable(`${s.name} on ${device} (${deviceName}), ${seconds.toFixed(1)} s`, res.rows, !!ref?.ok);
        for (const note of res.notes) console.log(`   ${note}`);
        if (ref)
          console.log(
            `   reference: ${ref.message}${ref.ok ? "; ours/torch = torch ms / our ms for the same work (> 1: ours is faster)" : ""}`,
          );
        record = { ...env, suite: s.name, seconds, rows: res.rows, notes: res.notes, reference: ref, extra: res.extra, table };
      } catch (e) {
        failed++;
        const err = e as Error;
        console.log(`\n== ${s.name}: FAILED: ${err.stack ?? err.message}`);
        record = { ...env, suite: s.name, error: err.message };
      }
    }
    n.synchronize();
    n.emptyCache();
    all.push(record);
    fs.writeFileSync(path.join(resultsDir, `${s.name}.json`), JSON.stringify(record, null, 1) + "\n");
    // one file in OUT (rewritten after each suite, so a timeout keeps what finished)
    if (outDir) fs.writeFileSync(path.join(outDir, "bench.json"), JSON.stringify(all, null, 1) + "\n");
  }
  console.log(
    `\nbench: done in ${((Date.now() - started) / 1000).toFixed(1)} s; results in ${path.relative(process.cwd(), resultsDir) || "."}/` +
      (outDir ? ` and ${path.join(outDir, "bench.json")}` : ""),
  );
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
