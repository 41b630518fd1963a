// GEMM GFLOP/s at the GPT-2-small layer shapes (forward NN, dX = dY W^T as NT, dW = X^T dY
// as TN) over 2,560 tokens, and at the CLLM4Rec head shapes.
import { native, Tensor } from "../src/engine";
import { Ctx, SuiteResult, Row, time, sync, randomTensor, row, fracPeak } from "./common";

export interface GemmCase {
  key: string;
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
}

const TOKENS = 2560;

/** The cases, shared with bench/reference/torch_bench.py by key. */
export function gemmCases(): GemmCase[] {
  const out: GemmCase[] = [];
  for (const [name, din, dout] of [["c_attn", 768, 2304], ["c_fc", 768, 3072], ["mlp.c_proj", 3072, 768]] as const) {
    out.push({ key: `${name} fwd NN ${TOKENS}x${din}x${dout}`, transA: false, transB: false, M: TOKENS, N: dout, K: din });
    out.push({ key: `${name} dX NT ${TOKENS}x${dout}x${din}`, transA: false, transB: true, M: TOKENS, N: din, K: dout });
    out.push({ key: `${name} dW TN ${din}x${TOKENS}x${dout}`, transA: true, transB: false, M: din, N: dout, K: TOKENS });
  }
  out.push({ key: "vocab logits NT 600x128x50257", transA: false, transB: true, M: 600, N: 50257, K: 128 });
  out.push({ key: "vocab dh NN 600x50257x128", transA: false, transB: false, M: 600, N: 128, K: 50257 });
  out.push({ key: "rec scores NT 20x768x10000", transA: false, transB: true, M: 20, N: 10000, K: 768 });
  return out;
}

export async function run(ctx: Ctx): Promise<SuiteResult> {
  const rows: Row[] = [];
  const notes: string[] = [
    "key: 'name layout MxKxN' (C[M,N] = op(A)[M,K] op(B)[K,N]); raw native().gemm, beta = 0, timed to native().synchronize()",
  ];
  for (const c of gemmCases()) {
    if (ctx.timeLeft() < 5) {
      notes.push(`${c.key}: skipped (time budget)`);
      continue;
    }
    const A = randomTensor(c.transA ? [c.K, c.M] : [c.M, c.K], ctx.device, 1, 1);
    const B = randomTensor(c.transB ? [c.N, c.K] : [c.K, c.N], ctx.device, 1, 2);
    const C = Tensor.zeros([c.M, c.N], { device: ctx.device });
    const flops = 2 * c.M * c.N * c.K;
    const t = time(c.key, () => {
      native().gemm(c.transA, c.transB, c.M, c.N, c.K, 1, A.buffer, 0, 0, B.buffer, 0, 0, 0, C.buffer, 0, 0, 1, null);
      sync();
    }, { iterations: ctx.quick ? 2 : 10, timeMs: ctx.quick ? 0 : 500, warmupIterations: 1 });
    rows.push(row(c.key, t, { "GFLOP/s": flops / (t.ms / 1000) / 1e9, "of peak": fracPeak(flops, t.ms, ctx) }, "GFLOP/s"));
    A.dispose();
    B.dispose();
    C.dispose();
  }
  return { suite: "gemm", rows, notes };
}
