// GEMM GFLOP/s at the GPT-2-small layer shapes (forward NN, dX = dY W^T as NT, dW = X^T dY
// as TN) over 2,560 tokens, and at the CLLM4Rec head shapes.
import { native, Tensor, tidy, backward } from "../src/engine";
import { linearCrossEntropy, packHeadBf16 } from "../src/engine/ops/cross_entropy";
import { type Ctx, type SuiteResult, type Row, time, sync, randomTensor, row, fracPeak, pairedPeak, pairedPeakSeconds } from "./common";

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
  for (const [name, din, dout] of [
    ["c_attn", 768, 2304],
    ["c_fc", 768, 3072],
    ["mlp.c_proj", 3072, 768],
  ] as const) {
    out.push({ key: `${name} fwd NN ${TOKENS}x${din}x${dout}`, transA: false, transB: false, M: TOKENS, N: dout, K: din });
    out.push({ key: `${name} dX NT ${TOKENS}x${dout}x${din}`, transA: false, transB: true, M: TOKENS, N: din, K: dout });
    out.push({ key: `${name} dW TN ${din}x${TOKENS}x${dout}`, transA: true, transB: false, M: din, N: dout, K: TOKENS });
  }
  out.push({ key: "vocab logits NT 600x128x50257", transA: false, transB: true, M: 600, N: 50257, K: 128 });
  out.push({ key: "vocab dh NN 600x50257x128", transA: false, transB: false, M: 600, N: 128, K: 50257 });
  out.push({ key: "rec scores NT 20x768x10000", transA: false, transB: true, M: 20, N: 10000, K: 768 });
  return out;
}

/** Marks a row's paired-peak ratio as measured per round (merged as its median over rounds). */
function perRound(r: Row): Row {
  return "of paired peak" in r.metrics ? { ...r, perRound: ["of paired peak"] } : r;
}

export async function run(ctx: Ctx): Promise<SuiteResult> {
  const rows: Row[] = [];
  const notes: string[] = [
    "key: 'name layout MxKxN' (C[M,N] = op(A)[M,K] op(B)[K,N]); raw native().gemm, beta = 0, timed to native().synchronize()",
  ];
  const cpu = ctx.device === "cpu";
  const bf16 = cpu && native().bf16Supported();
  if (cpu)
    notes.push(
      `'of paired peak': against the FMA loop (BF16 rows: the vdpbf16ps loop) run on every engine thread for ${pairedPeakSeconds(ctx)} s right after the case, in each round; the median over the rounds of that ratio ('of peak' holds every case to the one peak measured at the start of the run)`,
    );
  if (!bf16)
    notes.push("no BF16 rows: " + (ctx.device === "cpu" ? "this CPU has no AVX512_BF16 (or CLLM4REC_CPU_ISA caps it)" : "CPU-only kernel"));
  else
    notes.push(
      "v2 bf16 rows: gemmBf16 with op(B) packed to BF16 once (frozen weights), A rounded to BF16 while packed, fp32 accumulation (vdpbf16ps); 'of peak' against the measured BF16 peak",
    );
  for (const c of gemmCases()) {
    if (ctx.timeLeft() < 5) {
      notes.push(`${c.key}: skipped (time budget)`);
      continue;
    }
    const A = randomTensor(c.transA ? [c.K, c.M] : [c.M, c.K], ctx.device, 1, 1);
    const B = randomTensor(c.transB ? [c.N, c.K] : [c.K, c.N], ctx.device, 1, 2);
    const C = Tensor.zeros([c.M, c.N], { device: ctx.device });
    const flops = 2 * c.M * c.N * c.K;
    const t = time(
      c.key,
      () => {
        native().gemm(c.transA, c.transB, c.M, c.N, c.K, 1, A.buffer, 0, 0, B.buffer, 0, 0, 0, C.buffer, 0, 0, 1, null);
        sync();
      },
      { iterations: ctx.quick ? 2 : 10, timeMs: ctx.quick ? 0 : 500, warmupIterations: 1 },
    );
    const fp32 = flops / (t.ms / 1000) / 1e9;
    const paired = cpu ? pairedPeak(ctx, 0) : 0;
    rows.push(
      perRound(
        row(
          c.key,
          t,
          { "GFLOP/s": fp32, "of peak": fracPeak(flops, t.ms, ctx), ...(cpu ? { "of paired peak": (fp32 * 1e9) / paired } : {}) },
          "GFLOP/s",
        ),
      ),
    );
    // v2 for the frozen-weight GEMMs (fwd, dX): B packed to BF16 once, A rounded as packed
    if (bf16 && !c.transA && c.M > 20 && c.K < 10000) {
      const packed = Tensor.zeros([native().bf16PackedWords(c.K, c.N)], { dtype: "i32" });
      native().bf16PackB(c.transB, B.buffer, c.K, c.N, packed.buffer);
      const tb = time(`${c.key} bf16`, () => native().gemmBf16(false, c.M, c.N, c.K, 1, A.buffer, 0, packed.buffer, 0, C.buffer, 0, null), {
        iterations: ctx.quick ? 2 : 10,
        timeMs: ctx.quick ? 0 : 500,
        warmupIterations: 1,
      });
      const g = flops / (tb.ms / 1000) / 1e9;
      const pairedBf16 = pairedPeak(ctx, 1);
      rows.push(
        perRound(
          row(
            `${c.key} v2 bf16 (W packed)`,
            tb,
            {
              "GFLOP/s": g,
              "of peak": (g * 1e9) / (ctx.limits.bf16PeakFlops || Infinity),
              "of paired peak": (g * 1e9) / pairedBf16,
              "x fp32": g / fp32,
            },
            "GFLOP/s",
          ),
        ),
      );
      packed.dispose();
    }
    A.dispose();
    B.dispose();
    C.dispose();
  }
  if (ctx.device === "cpu" && ctx.timeLeft() > 10) rows.push(...headRows(ctx, notes));
  return { suite: "gemm", rows, notes };
}

// The C-step's vocabulary head + cross-entropy, forward and input backward, through the
// engine op: v1 = chunked (logits GEMM, softmax, recompute GEMM, dh GEMM), v2 = fused kernel.
function headRows(ctx: Ctx, notes: string[]): Row[] {
  const n = 600,
    d = 128,
    C = 50257;
  const h0 = randomTensor([n, d], "cpu", 1, 11),
    w = randomTensor([C, d], "cpu", 0.1, 12);
  const targets = Int32Array.from({ length: n }, (_, i) => (i * 7919) % C);
  const useful = 4 * n * C * d; // logits + dh products; v1 also recomputes the logits
  const out: Row[] = [];
  // v3: the fused kernel on W packed once to BF16 (--dtype bf16), when the CPU has AVX512_BF16
  const packed = native().bf16Supported() ? packHeadBf16(w) : null;
  let fusedMs = 0;
  for (const [name, fused, headBf16] of [
    ["v1 chunked", false, null],
    ["v2 fused", true, null],
    ...(packed ? [["v3 fused bf16 (W packed)", true, packed] as const] : []),
  ] as const) {
    const t = time(
      name,
      () =>
        tidy(() => {
          const h = h0.clone();
          h.requiresGrad = true;
          const loss = linearCrossEntropy(h, w, targets, { fused, headBf16 });
          loss.item();
          backward(loss);
          h.dispose();
        }),
      { iterations: ctx.quick ? 2 : 8, timeMs: ctx.quick ? 0 : 500, warmupIterations: 1 },
    );
    if (name === "v2 fused") fusedMs = t.ms;
    const peak = headBf16 ? ctx.limits.bf16PeakFlops || Infinity : 0;
    out.push(
      row(
        `vocab head + CE fwd+dh ${n}x${d}x${C} ${name}`,
        t,
        {
          "GFLOP/s": useful / (t.ms / 1000) / 1e9,
          "of peak": peak ? useful / (t.ms / 1000) / peak : fracPeak(useful, t.ms, ctx),
          ...(headBf16 ? { "x fp32": fusedMs / t.ms } : {}),
        },
        "GFLOP/s",
      ),
    );
  }
  if (packed) {
    packed.logits.dispose();
    packed.grad.dispose();
    notes.push("vocab head v3: 'of peak' against the measured BF16 peak; 'x fp32' = v2 ms / v3 ms");
  }
  notes.push(
    "vocab head rows: linearCrossEntropy forward + backward to h (W frozen, as in the C-step); GFLOP/s counts 4·n·C·d useful FLOPs (logits and dh), not v1's recompute",
  );
  h0.dispose();
  w.dispose();
  return out;
}
