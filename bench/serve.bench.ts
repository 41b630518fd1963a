// The serve command under load: a real server process on localhost (tiny default backbone,
// synthetic 1,000 users x 500 items) and our own fetch-based load generator. Throughput and
// p50/p99 latency at 1, 8 and 64 concurrent clients, micro-batched (--max-batch 64,
// --max-wait-ms 5) against one forward pass per request (--max-batch 1): the gain of
// micro-batching, and of both against the same requests sent one by one.
// CLLM4REC_BENCH_SERVE_RUN=<run folder> serves an existing run instead of training one.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { train, openRun } from "../src/run";
import type { Ctx, SuiteResult, Row } from "./common";

const CLIENTS = [1, 8, 64];
const TOP = 10;

interface Server {
  url: string;
  child: ChildProcess;
}

function startServer(out: string, args: string[], device: string): Promise<Server> {
  const cli = path.join(__dirname, "..", "src", "train.js");
  const child = spawn(process.execPath, [cli, "serve", "--out", out, "--port", "0", "--device", device, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 120 s: ${text}`)), 120_000);
    const onData = (d: Buffer) => {
      text += d;
      const m = /serving .* on (http:\/\/[^\s]+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`serve exited (${code}): ${text}`)));
  });
}

function stopServer(s: Server): Promise<void> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null) return resolve();
    s.child.once("exit", () => resolve());
    s.child.kill("SIGTERM");
  });
}

async function metrics(url: string): Promise<{ passes: number; users: number }> {
  const m = (await (await fetch(`${url}/metrics`)).json()) as { batches: { count: number; users: number } };
  return { passes: m.batches.count, users: m.batches.users };
}

/** `total` GET /recommend requests from `clients` loops (each waits for its answer), bounded by deadlineMs. */
async function load(url: string, users: readonly string[], clients: number, total: number, deadlineMs: number) {
  const latencies: number[] = [];
  let next = 0,
    errors = 0;
  const stopAt = performance.now() + deadlineMs;
  const worker = async () => {
    while (next < total && performance.now() < stopAt) {
      const i = next++;
      const u = users[(i * 7919) % users.length];
      const t0 = performance.now();
      const r = await fetch(`${url}/recommend?user=${encodeURIComponent(u)}&top=${TOP}`);
      await r.json();
      latencies.push(performance.now() - t0);
      if (r.status !== 200) errors++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, worker));
  return { latencies, wallMs: performance.now() - t0, errors };
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];

export async function run(ctx: Ctx): Promise<SuiteResult> {
  const notes: string[] = [];
  let out = process.env.CLLM4REC_BENCH_SERVE_RUN;
  let tmp: string | null = null;
  if (!out) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-bench-serve-"));
    out = path.join(tmp, "run");
    const t0 = Date.now();
    // the embeddings' quality does not change serving cost: one short finetuning epoch
    const r = await train({
      out,
      device: ctx.device,
      log: () => {},
      backbone: "random", // the serving figures are of the tiny random backbone (same shape as the pretrained default)
      config: { contentEpochs: 0, alternatingEpochs: 0, finetuneEpochs: 1, contentFraction: 0.02, patience: 0 },
    });
    notes.push(
      `run: synthetic ${r.users.length} users x ${r.items.length} items, tiny random backbone, trained for the bench in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
    r.dispose();
  } else notes.push(`run: ${out} (CLLM4REC_BENCH_SERVE_RUN)`);
  const opened = await openRun(out, { device: "cpu" });
  const users = [...opened.users];
  opened.dispose();
  const perRow = ctx.quick ? 150 : 600;
  const deadlineMs = ctx.quick ? 10_000 : 30_000;
  const rows: Row[] = [];
  const modes: [string, string[]][] = [
    ["one pass per request", ["--max-batch", "1", "--max-wait-ms", "0"]],
    ["micro-batched", ["--max-batch", "64", "--max-wait-ms", "5"]],
  ];
  let oneByOne = 0;
  const perMode: Record<string, Record<number, number>> = {};
  try {
    for (const [mode, args] of modes) {
      const server = await startServer(out, args, ctx.device);
      perMode[mode] = {};
      try {
        await load(server.url, users, 4, 40, 10_000); // warm-up: connections, first passes
        for (const clients of CLIENTS) {
          if (ctx.timeLeft() < 15) {
            notes.push(`${mode} c=${clients}: skipped (time budget)`);
            continue;
          }
          const before = await metrics(server.url);
          const r = await load(server.url, users, clients, perRow, deadlineMs);
          const after = await metrics(server.url);
          const sorted = [...r.latencies].sort((a, b) => a - b);
          const rps = (r.latencies.length / r.wallMs) * 1000;
          if (mode === modes[0][0] && clients === 1) oneByOne = rps;
          perMode[mode][clients] = rps;
          const passes = after.passes - before.passes;
          rows.push({
            case: `${mode}, ${clients} client${clients > 1 ? "s" : ""}`,
            ms: quantile(sorted, 0.5),
            minMs: sorted[0],
            samples: sorted.length,
            metrics: {
              "req/s": rps,
              "p50 ms": quantile(sorted, 0.5),
              "p99 ms": quantile(sorted, 0.99),
              "users/pass": passes ? (after.users - before.users) / passes : 0,
              passes,
              errors: r.errors,
              "vs one by one": oneByOne ? rps / oneByOne : "-",
              "vs unbatched": mode === modes[1][0] && perMode[modes[0][0]][clients] ? rps / perMode[modes[0][0]][clients] : "-",
            },
          });
        }
      } finally {
        await stopServer(server);
      }
    }
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
  notes.push(
    `${perRow} GET /recommend?top=${TOP} per row (or ${deadlineMs / 1000} s), users cycled; server and load generator share this machine's ${os.cpus().length} logical CPUs; ` +
      "'one by one' = 1 client, one pass per request",
  );
  return { suite: "serve", rows, notes };
}
