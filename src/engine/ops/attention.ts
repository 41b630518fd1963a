// Causal multi-head attention over packed qkv rows (GPT-2's c_attn output), with a
// key-padding mask, an optional key prefix (the prompt's keys/values, reused) and optional
// dropout on the probabilities (HF GPT-2 attn_pdrop), its mask regenerated in the backward.
import { native } from "../native";
import { Tensor, expect, sameDevice } from "../tensor";
import { record } from "../autograd";
import { check, checkLive } from "./common";
import { dropoutArgs, type DropoutSpec } from "./dropout";

/** the model's compute precision, which picks the CUDA attention version */
export type AttentionPrecision = "f32" | "bf16";

export interface AttentionShape {
  batch: number;
  heads: number;
  /** query length: rows of q per batch entry */
  tq: number;
  /** key length: rows of kv per batch entry (tk >= tq; the first tk - tq keys are a prefix) */
  tk: number;
}

/**
 * q: [B*Tq, 3d] packed qkv rows whose first d columns are the queries; kv: [B*Tk, 3d]
 * packed rows whose columns d..2d are keys and 2d..3d values (kv may be q itself);
 * keyMask: int32 [B*Tk] (1 = real, 0 = pad) or null. Query i sits at key position
 * Tk - Tq + i and sees keys at or before it. Returns [B*Tq, d].
 * drop (training): probability P[b, h, i, j] is multiplied by the mask of element
 * ((b*H + h)*Tq + i)*Tk + j of the stream (seed, site, step) before it weights v.
 * precision (CUDA; the CPU has one FP32 kernel): "f32" runs the FP32 kernel (v1), "bf16" the
 * flash kernel on BF16 operands (v2) where the head dim allows, unset the addon's default;
 * CLLM4REC_ATTENTION_VERSION overrides it.
 */
export function attention(
  q: Tensor,
  kv: Tensor,
  keyMask: Tensor | null,
  s: AttentionShape,
  drop?: DropoutSpec,
  precision?: AttentionPrecision,
): Tensor {
  const op = "attention";
  checkLive(op, q, kv, ...(keyMask ? [keyMask] : []));
  expect(op, q, "q", "f32", 2);
  expect(op, kv, "kv", "f32", 2);
  const device = sameDevice(op, q, kv, ...(keyMask ? [keyMask] : []));
  const { batch: B, heads: H, tq: Tq, tk: Tk } = s;
  const ld = q.shape[1];
  check(ld % 3 === 0 && kv.shape[1] === ld, op, "q and kv must be packed [rows, 3d]", q, kv);
  const d = ld / 3;
  check(d % H === 0, op, `d=${d} is not divisible by ${H} heads`, q);
  check(
    q.shape[0] === B * Tq && kv.shape[0] === B * Tk && Tk >= Tq,
    op,
    `rows must be B*Tq=${B * Tq} and B*Tk=${B * Tk} with Tk >= Tq`,
    q,
    kv,
  );
  if (keyMask) {
    expect(op, keyMask, "keyMask", "i32");
    check(keyMask.numel === B * Tk, op, `keyMask must have B*Tk=${B * Tk} entries`, keyMask);
  }
  const Dh = d / H;
  const dr = dropoutArgs(op, drop);
  const version = precision === "f32" ? 1 : precision === "bf16" ? 2 : 0; // the backward runs the same
  const out = Tensor.empty([B * Tq, d], { device });
  const lse = Tensor.empty([B * H * Tq], { device });
  const mask = keyMask ? keyMask.buffer : null;
  native().attentionForward(q.buffer, 0, ld, kv.buffer, d, 2 * d, ld, mask, out.buffer, lse.buffer, B, H, Tq, Tk, Dh, ...dr, version);
  return record(out, {
    op,
    inputs: q === kv ? [q] : [q, kv],
    backward(ctx, g) {
      const dq = ctx.slot(q),
        dkv = q === kv ? dq : ctx.slot(kv);
      if (!dq && !dkv) return;
      // the kernel writes all three parts; a part nobody needs goes to scratch
      const dqT = dq ?? Tensor.zeros(q.shape, { device });
      const dkvT = dkv ?? Tensor.zeros(kv.shape, { device });
      native().attentionBackward(
        (g as Tensor).buffer,
        q.buffer,
        0,
        ld,
        kv.buffer,
        d,
        2 * d,
        ld,
        mask,
        out.buffer,
        lse.buffer,
        dqT.buffer,
        0,
        dkvT.buffer,
        d,
        2 * d,
        B,
        H,
        Tq,
        Tk,
        Dh,
        ...dr,
        version,
      );
      if (!dq) dqT.dispose();
      if (!dkv) dkvT.dispose();
    },
  });
}
