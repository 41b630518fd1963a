// Scale: one epoch of CLLM4Rec at I users x J items (tiny backbone, synthetic batches), for
// J from 10k to 1M: seconds per epoch (L-steps, C-steps and RecLLM steps, I/20 batches
// each, extrapolated from timed steps) and peak memory against the trained state (four
// tables, their gradients, two Adam moments) plus one batch (sparse targets, one chunk of
// the RecLLM head's scores).
// Each point runs in its own process (bench/scale_child.ts) so its peak RSS is its own.
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import type { Ctx, SuiteResult, Row } from "./common";

export const SCALE_USERS = 100_000;

export async function run(ctx: Ctx): Promise<SuiteResult> {
  const I = ctx.quick ? 10_000 : SCALE_USERS;
  const items = ctx.quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
  const steps = ctx.quick ? 1 : 3;
  const rows: Row[] = [];
  const notes: string[] = [
    `I = ${I} users, tiny backbone (d 128), batch 20 (prompt 8, main 30 tokens; RecLLM 10 targets); ${steps} timed step(s) of each kind after one warm-up`,
    "epoch s = I/20 x (L-step + C-step + RecLLM step): one alternating epoch plus one finetuning epoch, extrapolated from the timed steps (not a full epoch run)",
    "state = 4 tables [I+J, d] fp32 + their gradients + Adam m and v; batch = the RecLLM batch's sparse targets + one chunk [20, <= 16,384] of the head's scores (the [20, J] scores never exist); RSS / (state + batch) is the memory target's ratio, target <= 1.2 at 100k x 1M (the backbone, activations, the host buffer cache and Node itself come on top: a fixed few hundred MB that dominates the small points)",
  ];
  for (const J of items) {
    const stateBytes = 4 * 4 * 2 * (I + J) * 128;
    if (ctx.timeLeft() < 30) {
      notes.push(`J=${J}: skipped (time budget)`);
      continue;
    }
    if (os.freemem() < 1.5 * stateBytes + (1 << 30)) {
      notes.push(`J=${J}: skipped: needs about ${(stateBytes / 1e9).toFixed(1)} GB, ${(os.freemem() / 1e9).toFixed(1)} GB free`);
      continue;
    }
    const child = path.join(__dirname, "scale_child.js");
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [child, String(I), String(J), String(steps)], {
      encoding: "utf8",
      // spawnSync wants a finite integer: timeLeft() is fractional, and Infinity without a budget
      timeout: Number.isFinite(ctx.timeLeft()) ? Math.floor(Math.max(30, ctx.timeLeft() - 10) * 1000) : undefined,
      maxBuffer: 1 << 20,
    });
    if (r.status !== 0) {
      notes.push(`J=${J}: child failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().split("\n").slice(-2).join(" | ")}`);
      continue;
    }
    const p = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
    const epochS = ((I / 20) * (p.lMs + p.cMs + p.recMs)) / 1000;
    const base = p.stateBytes + p.batchBytes;
    rows.push({
      case: `I=${I} J=${J}`,
      ms: p.lMs + p.cMs + p.recMs,
      minMs: p.lMs + p.cMs + p.recMs,
      samples: steps,
      metrics: {
        "L ms": p.lMs,
        "C ms": p.cMs,
        "Rec ms": p.recMs,
        "epoch s": epochS,
        "peak RSS MB": p.maxRssBytes / 1e6,
        "state+batch MB": base / 1e6,
        "RSS/(state+batch)": p.maxRssBytes / base,
        "point s": (Date.now() - t0) / 1000,
      },
    });
  }
  if (rows.length > 1) {
    const a = rows[0].metrics,
      b = rows[rows.length - 1].metrics;
    notes.push(
      `growth from ${rows[0].case} to ${rows[rows.length - 1].case}: epoch time x${((b["epoch s"] as number) / (a["epoch s"] as number)).toFixed(1)}, ` +
        `peak RSS x${((b["peak RSS MB"] as number) / (a["peak RSS MB"] as number)).toFixed(1)}`,
    );
  }
  return { suite: "scale", rows, notes };
}
