// The RecLLM head: scores = h[B, d] Z[J, d]^T, multinomial NLL against sparse multi-hot
// targets, backward into h and Z, through the engine's ops and autograd: the unfused
// composition (matmul + multinomialNll, [B, J] scores held) and the chunked head
// linearMultinomialNll (as training runs it).
import {
  tidy,
  noGrad,
  backward,
  matmul,
  multinomialNll,
  linearMultinomialNll,
  multiHotTargets,
  native,
  HEAD_CHUNK_COLUMNS,
  type SparseTargets,
} from "../src/engine";
import { type Ctx, type SuiteResult, type Row, time, sync, randomTensor, row, fracPeak } from "./common";

export const HEAD_D = 768;
/** items per user in the multi-hot targets */
export const HEAD_POSITIVES = 10;

export function headCases(quick: boolean): { B: number; J: number; skip?: string }[] {
  const out: { B: number; J: number; skip?: string }[] = [];
  for (const B of [20, 256])
    for (const J of [1000, 10000, 100000])
      out.push(quick && B === 256 && J === 100000 ? { B, J, skip: "skipped in quick mode (about 118 GFLOP per step)" } : { B, J });
  return out;
}

export const headKey = (B: number, J: number, what: string): string => `B=${B} J=${J / 1000}k ${what}`;

/** Sparse multi-hot targets of B rows over J items: HEAD_POSITIVES spread items per row. */
function multiHot(B: number, J: number): SparseTargets {
  return multiHotTargets(
    Array.from({ length: B }, (_, r) => Array.from({ length: HEAD_POSITIVES }, (_, k) => (r * 7919 + k * 104729) % J)),
    J,
  );
}

export async function run(ctx: Ctx): Promise<SuiteResult> {
  const rows: Row[] = [];
  const d = HEAD_D;
  const notes: string[] = [
    `d = ${d}, ${HEAD_POSITIVES} positives per user; fwd = matmul + multinomialNll (noGrad); fwd+bwd = the same under autograd + backward() into h and Z, ` +
      "plus zeroing both gradients in place (as Adam.zeroGrad does each step)",
    "FLOPs counted: fwd 2BJd, fwd+bwd 6BJd, chunked fwd+bwd 8BJd (its backward recomputes the scores when J > HEAD_CHUNK_COLUMNS = 16,384) (GEMMs only)",
  ];
  for (const { B, J, skip } of headCases(ctx.quick)) {
    if (skip || ctx.timeLeft() < 10) {
      notes.push(`B=${B} J=${J}: ${skip ?? "skipped (time budget)"}`);
      continue;
    }
    const h = randomTensor([B, d], ctx.device, 1, 3, true);
    const Z = randomTensor([J, d], ctx.device, 0.02, 4, true);
    const T = multiHot(B, J);
    const big = B * J >= 256 * 100000;
    const opts = { iterations: ctx.quick || big ? 2 : 5, timeMs: ctx.quick ? 0 : 500, warmupIterations: 1 };
    const fwd = time(
      headKey(B, J, "fwd"),
      () => {
        noGrad(() =>
          tidy(() => {
            multinomialNll(matmul(h, Z, { transB: true }), T);
          }),
        );
        sync();
      },
      opts,
    );
    const fwdFlops = 2 * B * J * d;
    rows.push(
      row(
        headKey(B, J, "fwd"),
        fwd,
        {
          "users*items/s": (B * J) / (fwd.ms / 1000),
          "GFLOP/s": fwdFlops / (fwd.ms / 1000) / 1e9,
          "of peak": fracPeak(fwdFlops, fwd.ms, ctx),
        },
        "users*items/s",
      ),
    );
    const both = time(
      headKey(B, J, "fwd+bwd"),
      () => {
        tidy(() => {
          backward(multinomialNll(matmul(h, Z, { transB: true }), T));
        });
        for (const p of [h, Z]) if (p.grad) native().fill(p.grad.buffer, 0, p.numel);
        sync();
      },
      opts,
    );
    const fused = time(
      headKey(B, J, "chunked fwd+bwd"),
      () => {
        tidy(() => {
          backward(linearMultinomialNll(h, Z, T));
        });
        for (const p of [h, Z]) if (p.grad) native().fill(p.grad.buffer, 0, p.numel);
        sync();
      },
      opts,
    );
    const flops = 6 * B * J * d;
    for (const [what, t, f] of [
      ["fwd+bwd", both, flops],
      ["chunked fwd+bwd", fused, flops + (J > HEAD_CHUNK_COLUMNS ? 2 * B * J * d : 0)], // + the recomputed chunk scores
    ] as const) {
      rows.push(
        row(
          headKey(B, J, what),
          t,
          {
            "users*items/s": (B * J) / (t.ms / 1000),
            "GFLOP/s": f / (t.ms / 1000) / 1e9,
            "of peak": fracPeak(f, t.ms, ctx),
          },
          "users*items/s",
        ),
      );
    }
    for (const t of [h, Z]) t.dispose();
  }
  return { suite: "multinomial_nll", rows, notes };
}
