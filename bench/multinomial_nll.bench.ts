// The RecLLM head: scores = h[B, d] Z[J, d]^T, multinomial NLL against multi-hot targets,
// backward into h and Z, through the engine's ops and autograd (as training runs it).
import { Tensor, tidy, noGrad, backward, matmul, multinomialNll, native } from "../src/engine";
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

/** Multi-hot targets [B, J]: HEAD_POSITIVES spread items per row. */
export function multiHot(B: number, J: number): Float32Array {
  const t = new Float32Array(B * J);
  for (let r = 0; r < B; r++) for (let k = 0; k < HEAD_POSITIVES; k++) t[r * J + ((r * 7919 + k * 104729) % J)] = 1;
  return t;
}

export async function run(ctx: Ctx): Promise<SuiteResult> {
  const rows: Row[] = [];
  const d = HEAD_D;
  const notes: string[] = [
    `d = ${d}, ${HEAD_POSITIVES} positives per user; fwd = matmul + multinomialNll (noGrad); fwd+bwd = the same under autograd + backward() into h and Z, ` +
      "plus zeroing both gradients in place (as Adam.zeroGrad does each step)",
    "FLOPs counted: fwd 2BJd, fwd+bwd 6BJd (GEMMs only)",
  ];
  for (const { B, J, skip } of headCases(ctx.quick)) {
    if (skip || ctx.timeLeft() < 10) {
      notes.push(`B=${B} J=${J}: ${skip ?? "skipped (time budget)"}`);
      continue;
    }
    const h = randomTensor([B, d], ctx.device, 1, 3, true);
    const Z = randomTensor([J, d], ctx.device, 0.02, 4, true);
    const T = Tensor.from(multiHot(B, J), [B, J], { device: ctx.device });
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
    const flops = 6 * B * J * d;
    rows.push(
      row(
        headKey(B, J, "fwd+bwd"),
        both,
        {
          "users*items/s": (B * J) / (both.ms / 1000),
          "GFLOP/s": flops / (both.ms / 1000) / 1e9,
          "of peak": fracPeak(flops, both.ms, ctx),
        },
        "users*items/s",
      ),
    );
    for (const t of [h, Z, T]) t.dispose();
  }
  return { suite: "multinomial_nll", rows, notes };
}
