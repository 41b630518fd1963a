// GPT-2 small (12 layers, d 768, 12 heads, vocab 50257; random weights std 0.02) over a
// batch of 20 x 128 tokens: forward, and forward + backward into the input embeddings only
// (the weights are frozen, as in CLLM4Rec).
import { Tensor, tidy, noGrad, backward, squaredDistance, zeroGrad, keep, native } from "../src/engine";
import { enableProfile, disableProfile, resetProfile, profileReport, formatProfile, profiling } from "../src/engine/profile";
import { Gpt2, type Gpt2Config, type WeightMap } from "../src/nn/gpt2";
import { type Ctx, type SuiteResult, type Row, time, sync, randomTensor, row, fracPeak, tiledNormals } from "./common";
import { attnFwdFlops } from "./attention.bench";

export const GPT2_SMALL: Gpt2Config = { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, layerNormEpsilon: 1e-5 };
export const GPT2_BATCH = 20;
export const GPT2_T = 128;

/** Weights with GPT-2's names: matrices N(0, 0.02) (tiled from one seeded chunk), LayerNorm 1, biases 0. */
export function gpt2SmallWeights(cfg: Gpt2Config): WeightMap {
  const { vocabSize: V, nPositions: P, nEmbd: d, nLayer: L } = cfg;
  const w: WeightMap = new Map();
  let seed = 10;
  const mat = (name: string, shape: number[]) => w.set(name, { shape, data: tiledNormals(shape[0] * shape[1], 0.02, seed++) });
  const vec = (name: string, n: number, v: number) => w.set(name, { shape: [n], data: new Float32Array(n).fill(v) });
  mat("wte.weight", [V, d]);
  mat("wpe.weight", [P, d]);
  for (let l = 0; l < L; l++) {
    const p = `h.${l}.`;
    vec(p + "ln_1.weight", d, 1);
    vec(p + "ln_1.bias", d, 0);
    mat(p + "attn.c_attn.weight", [d, 3 * d]);
    vec(p + "attn.c_attn.bias", 3 * d, 0);
    mat(p + "attn.c_proj.weight", [d, d]);
    vec(p + "attn.c_proj.bias", d, 0);
    vec(p + "ln_2.weight", d, 1);
    vec(p + "ln_2.bias", d, 0);
    mat(p + "mlp.c_fc.weight", [d, 4 * d]);
    vec(p + "mlp.c_fc.bias", 4 * d, 0);
    mat(p + "mlp.c_proj.weight", [4 * d, d]);
    vec(p + "mlp.c_proj.bias", d, 0);
  }
  vec("ln_f.weight", d, 1);
  vec("ln_f.bias", d, 0);
  return w;
}

/** GEMM + attention FLOPs of the forward (and of the input-only backward) over B x T tokens. */
export function gpt2Flops(cfg: Gpt2Config, B: number, T: number): { fwd: number; inputBwd: number } {
  const d = cfg.nEmbd;
  const gemm = 2 * B * T * (d * 3 * d + d * d + 2 * d * 4 * d) * cfg.nLayer;
  const attn = attnFwdFlops({ B, H: cfg.nHead, T, Dh: d / cfg.nHead }) * cfg.nLayer;
  // input-only backward: one dX GEMM per weight (no dW), attention backward 2.5x its forward
  return { fwd: gemm + attn, inputBwd: gemm + 2.5 * attn };
}

export async function run(ctx: Ctx): Promise<SuiteResult> {
  const cfg = GPT2_SMALL,
    B = GPT2_BATCH,
    T = GPT2_T,
    d = cfg.nEmbd;
  const t0 = Date.now();
  const model = new Gpt2(cfg, gpt2SmallWeights(cfg), ctx.device);
  const loadMs = Date.now() - t0;
  const x0 = keep(randomTensor([B * T, d], ctx.device, 0.1, 8, true));
  const mask = keep(Tensor.from(new Int32Array(B * T).fill(1), [B * T], { device: ctx.device }));
  const zeros = keep(Tensor.zeros([B * T, d], { device: ctx.device }));
  const flops = gpt2Flops(cfg, B, T);
  const tokens = B * T;
  const opts = { iterations: ctx.quick ? 1 : 3, timeMs: 0, warmupIterations: ctx.quick ? 0 : 1 };
  const rows: Row[] = [];
  const step = (m: Gpt2) => {
    tidy(() => {
      backward(squaredDistance(m.forward(x0, mask, B, T).hidden, zeros));
    });
    zeroGrad([x0]);
    sync();
  };
  let bothSkipped = false;
  // v1: fp32 weights; v2: the frozen block weights packed to BF16 (--dtype bf16), when the CPU has it
  const bf16 =
    ctx.device === "cpu" && native().bf16Supported() ? new Gpt2(cfg, gpt2SmallWeights(cfg), ctx.device, { dtype: "bf16" }) : null;
  for (const [m, suffix] of [[model, ""], ...(bf16 ? [[bf16, " v2 bf16 weights"]] : [])] as [Gpt2, string][]) {
    if (suffix && ctx.timeLeft() < 10) break;
    const fwd = time(
      "forward",
      () => {
        noGrad(() =>
          tidy(() => {
            m.forward(x0, mask, B, T);
          }),
        );
        sync();
      },
      opts,
    );
    rows.push(
      row(
        `forward ${B}x${T}${suffix}`,
        fwd,
        { "tokens/s": tokens / (fwd.ms / 1000), "GFLOP/s": flops.fwd / (fwd.ms / 1000) / 1e9, "of peak": fracPeak(flops.fwd, fwd.ms, ctx) },
        "tokens/s",
      ),
    );
    bothSkipped = ctx.timeLeft() <= 3 * (fwd.ms / 1000) + 5; // fwd+bwd costs about 2.5 forwards
    if (bothSkipped) continue;
    const both = time("forward+input-backward", () => step(m), opts);
    const f = flops.fwd + flops.inputBwd;
    rows.push(
      row(
        `fwd+input-bwd ${B}x${T}${suffix}`,
        both,
        { "tokens/s": tokens / (both.ms / 1000), "GFLOP/s": f / (both.ms / 1000) / 1e9, "of peak": fracPeak(f, both.ms, ctx) },
        "tokens/s",
      ),
    );
  }
  // one profiled fp32 forward + input backward: where the time goes (not part of the timings)
  const profileNotes: string[] = [];
  let profile: ReturnType<typeof profileReport> | null = null;
  if (!bothSkipped && ctx.device === "cpu" && !profiling() && ctx.timeLeft() > 30) {
    enableProfile();
    resetProfile();
    step(model);
    profile = profileReport();
    disableProfile();
    profileNotes.push(
      `profile of one fp32 fwd+input-bwd (bench/gpt2.bench.ts, as --profile): GEMMs ${((100 * profile.gemmMs) / profile.wallMs).toFixed(0)}% of its wall time`,
    );
    profileNotes.push(
      ...formatProfile(profile, 12)
        .split("\n")
        .map((l) => "  " + l),
    );
  }
  model.dispose();
  bf16?.dispose();
  for (const t of [x0, mask, zeros]) t.dispose();
  return {
    suite: "gpt2",
    rows,
    notes: [
      `GPT-2 small shapes, ${B} x ${T} tokens, all keys real; weights frozen; loss = squaredDistance(hidden, 0); gradient only into x0`,
      `FLOPs per pass: forward ${(flops.fwd / 1e9).toFixed(0)} GFLOP (GEMMs + causal attention), input backward ${(flops.inputBwd / 1e9).toFixed(0)} GFLOP (dX GEMMs + 2.5x attention)`,
      `weights built and uploaded in ${loadMs} ms (not timed)` + (ctx.quick ? "; quick mode: 1 iteration, no warm-up" : ""),
      ...(bothSkipped ? [`fwd+input-bwd skipped: ${ctx.timeLeft().toFixed(0)} s of the time budget left`] : []),
      ...(rows.some((r) => r.case.includes("bf16"))
        ? [
            "v2 bf16 weights: Gpt2 { dtype: 'bf16' }: block GEMMs on BF16-packed weights with fp32 accumulation (relative RMS ~3e-3 vs fp32)",
          ]
        : []),
      ...profileNotes,
    ],
    extra: profile ? { profile } : undefined,
  };
}
