// The crash matrix: one short CLI run is stopped at every file operation it makes in turn
// (SIGKILL after the operation, SIGKILL half-way through a write, ENOSPC on a write, EIO on
// a rename or removal), then resumed with --resume; each resumed report.json must equal the
// uninterrupted run's bit for bit (timing fields aside), and the run folder must hold no
// leftovers. Children use a 1-layer d=32 backbone and 60 users so the ~110 runs take minutes.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { createTinyGpt2Folder } from "../../src/io/tiny_gpt2";

const cli = path.resolve(__dirname, "..", "..", "..", "dist", "train.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-crash-"));
const backbone = path.join(tmp, "backbone");
createTinyGpt2Folder(backbone, { nLayer: 1, nEmbd: 32, nHead: 1, nPositions: 128, seed: 3 });
const FLAGS = [
  "--model",
  backbone,
  "--synthetic-users",
  "60",
  "--synthetic-items",
  "50",
  "--content-epochs",
  "1",
  "--alternating-epochs",
  "1",
  "--finetune-epochs",
  "2",
  "--content-fraction",
  "0.1",
  "--threads",
  "1",
];
const TIMING = new Set(["totalSeconds", "stageSeconds", "scoreSecondsPer1k", "seconds"]);

interface Child {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
}

function runCli(out: string, extra: string[], env: Record<string, string> = {}): Promise<Child> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...FLAGS, "--out", out, ...extra], {
      env: { ...process.env, CLLM4REC_CACHE: path.join(tmp, "cache"), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    p.stdout.on("data", (d) => (text += d));
    p.stderr.on("data", (d) => (text += d));
    p.on("close", (code, signal) => resolve({ code, signal, out: text }));
  });
}

/** report.json without the wall-clock fields, as text: equal strings = equal numbers bit for bit. */
function results(dir: string): { report: string; metrics: string; tables: string; best: string } {
  const strip = (s: string) => JSON.stringify(JSON.parse(s), (k, v) => (TIMING.has(k) ? undefined : v));
  const state = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8"));
  const metrics = fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map(strip).join("\n");
  return {
    report: strip(fs.readFileSync(path.join(dir, "report.json"), "utf8")),
    metrics,
    tables: state.files.tables.sha256,
    best: state.files.best.sha256,
  };
}

function assertClean(dir: string, what: string): void {
  const state = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8"));
  const referenced = new Set(Object.values(state.files as Record<string, { path: string }>).map((f) => path.basename(f.path)));
  assert.deepEqual(
    fs.readdirSync(path.join(dir, "checkpoint")).sort(),
    [...referenced].sort(),
    `${what}: unreferenced checkpoint files left`,
  );
  const stray = fs.readdirSync(dir).filter((f) => /tmp|\.lock$/.test(f));
  assert.deepEqual(stray, [], `${what}: temp or lock files left`);
}

async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

test("a kill or an I/O error at any file operation, then --resume, gives exactly the uninterrupted result", {
  timeout: 30 * 60 * 1000,
}, async () => {
  const t0 = Date.now();
  const refDir = path.join(tmp, "reference");
  const opsLog = path.join(tmp, "ops.log");
  const ref = await runCli(refDir, [], { CLLM4REC_FAULT_LOG: opsLog });
  assert.equal(ref.code, 0, ref.out);
  const expected = results(refDir);
  assertClean(refDir, "reference");
  const ops = fs
    .readFileSync(opsLog, "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const [n, kind, ...p] = l.split(" ");
      return { n: Number(n), kind, target: path.relative(refDir, p.join(" ")) };
    });
  // every stage writes: content, alternating and both finetuning epochs each commit
  for (const e of [1, 2, 3, 4])
    assert.ok(
      ops.some((o) => o.target === `checkpoint/tables-e000${e}.safetensors`),
      `epoch ${e} committed`,
    );
  const cases: { mode: string; n: number; what: string }[] = [];
  for (const o of ops) {
    const what = `${o.kind} ${o.target}`;
    cases.push({ mode: "kill", n: o.n, what });
    if (o.kind === "write") cases.push({ mode: "torn", n: o.n, what }, { mode: "enospc", n: o.n, what });
    else cases.push({ mode: "eio", n: o.n, what });
  }
  const failures: string[] = [];
  await pool(cases, 2, async (c) => {
    const dir = path.join(tmp, `${c.mode}-${c.n}`);
    const label = `${c.mode} at op ${c.n} (${c.what})`;
    const first = await runCli(dir, [], { CLLM4REC_FAULT: `${c.mode}:${c.n}` });
    if (c.mode === "kill" || c.mode === "torn") {
      if (first.signal !== "SIGKILL") failures.push(`${label}: expected SIGKILL, got code ${first.code} signal ${first.signal}`);
    } else if (first.code === 0 || !/ENOSPC|EIO/.test(first.out))
      failures.push(`${label}: expected a failed run naming the error, got code ${first.code}: ${first.out.slice(-300)}`);
    if (!fs.existsSync(dir)) {
      // a failed start leaves no folder; the user simply starts again
      const again = await runCli(dir, []);
      if (again.code !== 0) failures.push(`${label}: fresh start after a failed start exited ${again.code}: ${again.out.slice(-400)}`);
    } else {
      const resumed = await runCli(dir, ["--resume"]);
      if (resumed.code !== 0) {
        failures.push(`${label}: resume exited ${resumed.code}: ${resumed.out.slice(-400)}`);
        return;
      }
    }
    try {
      const got = results(dir);
      for (const k of Object.keys(expected) as (keyof typeof expected)[])
        if (got[k] !== expected[k]) failures.push(`${label}: ${k} differs from the uninterrupted run`);
      assertClean(dir, label);
    } catch (e) {
      failures.push(`${label}: ${(e as Error).message}`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  console.log(`crash matrix: ${cases.length} cases over ${ops.length} file operations in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  assert.deepEqual(failures, []);
});
