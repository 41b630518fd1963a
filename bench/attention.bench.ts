// Causal multi-head attention kernels over packed qkv rows [B*T, 3*768] (GPT-2 small heads).
import { native, Tensor } from "../src/engine";
import { type Ctx, type SuiteResult, type Row, time, sync, randomTensor, row, fracPeak } from "./common";

export const ATTN_CASES = [
  { B: 20, H: 12, T: 128, Dh: 64 },
  { B: 4, H: 12, T: 1024, Dh: 64 },
];

export const attnKey = (c: { B: number; H: number; T: number; Dh: number }, what: string): string =>
  `B=${c.B} H=${c.H} T=${c.T} Dh=${c.Dh} ${what}`;

/** Causal forward FLOPs: QK^T and PV over the lower triangle. */
export const attnFwdFlops = (c: { B: number; H: number; T: number; Dh: number }): number => (4 * c.B * c.H * c.T * c.T * c.Dh) / 2;

export async function run(ctx: Ctx): Promise<SuiteResult> {
  const rows: Row[] = [];
  const n = native();
  for (const c of ATTN_CASES) {
    const { B, H, T, Dh } = c;
    const d = H * Dh,
      ld = 3 * d;
    const qkv = randomTensor([B * T, ld], ctx.device, 1, 6);
    const mask = Tensor.from(new Int32Array(B * T).fill(1), [B * T], { device: ctx.device });
    const out = Tensor.zeros([B * T, d], { device: ctx.device });
    const lse = Tensor.zeros([B * H * T], { device: ctx.device });
    const dout = randomTensor([B * T, d], ctx.device, 1, 7);
    const dqkv = Tensor.zeros([B * T, ld], { device: ctx.device });
    const fwd = () =>
      n.attentionForward(
        qkv.buffer,
        0,
        ld,
        qkv.buffer,
        d,
        2 * d,
        ld,
        mask.buffer,
        out.buffer,
        lse.buffer,
        B,
        H,
        T,
        T,
        Dh,
        0,
        0,
        0,
        0,
        1,
        0,
      );
    const bwd = () =>
      n.attentionBackward(
        dout.buffer,
        qkv.buffer,
        0,
        ld,
        qkv.buffer,
        d,
        2 * d,
        ld,
        mask.buffer,
        out.buffer,
        lse.buffer,
        dqkv.buffer,
        0,
        dqkv.buffer,
        d,
        2 * d,
        B,
        H,
        T,
        T,
        Dh,
        0,
        0,
        0,
        0,
        1,
        0,
      );
    const opts = { iterations: ctx.quick ? 2 : 10, timeMs: ctx.quick ? 0 : 500, warmupIterations: 1 };
    const f = time(
      attnKey(c, "fwd"),
      () => {
        fwd();
        sync();
      },
      opts,
    );
    const ff = attnFwdFlops(c);
    rows.push(
      row(
        attnKey(c, "fwd"),
        f,
        { "tokens/s": (B * T) / (f.ms / 1000), "GFLOP/s": ff / (f.ms / 1000) / 1e9, "of peak": fracPeak(ff, f.ms, ctx) },
        "GFLOP/s",
      ),
    );
    const fb = time(
      attnKey(c, "fwd+bwd"),
      () => {
        fwd();
        bwd();
        sync();
      },
      opts,
    );
    const fbf = 3.5 * ff;
    rows.push(
      row(
        attnKey(c, "fwd+bwd"),
        fb,
        { "tokens/s": (B * T) / (fb.ms / 1000), "GFLOP/s": fbf / (fb.ms / 1000) / 1e9, "of peak": fracPeak(fbf, fb.ms, ctx) },
        "GFLOP/s",
      ),
    );
    for (const t of [qkv, mask, out, lse, dout, dqkv]) t.dispose();
  }
  return {
    suite: "attention",
    rows,
    notes: [
      "raw attentionForward/attentionBackward kernels, self-attention (Tq = Tk = T), all-ones key mask",
      "FLOPs: causal fwd 4*B*H*T*T*Dh/2; fwd+bwd = 3.5 x fwd (backward 2.5 x fwd: five matmuls incl. recomputed scores, FlashAttention's convention)",
    ],
  };
}
