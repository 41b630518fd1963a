// One attention forward + backward on both devices (test/cuda/attention.test.ts, attention_flash.test.ts):
// the two suites build their own q/kv layouts, masks and tolerances, and launch them through this.
import { both, nat, type Twin, twinFill } from "./twin";

export interface AttentionTwins {
  q: Twin;
  kv: Twin; // the same twin as q for a fused [B*T, 3D] qkv
  /** floats of the gradient buffers (dq unused when q is kv) */
  dqLength: number;
  dkvLength: number;
  offQ: number;
  ldq: number;
  offK: number;
  offV: number;
  ldk: number;
  mask: Twin | null;
}

export interface AttentionShapeArgs {
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  Dh: number;
}

/** out and lse (NaN-filled first), then dq and dkv (zero-filled; one buffer when q is kv) from dout. */
export function attentionBoth(
  io: AttentionTwins,
  s: AttentionShapeArgs,
  drop: [number, number, number, number, number],
  dout: Twin,
): { out: Twin; lse: Twin; dq: Twin; dkv: Twin } {
  const { q, kv, offQ, ldq, offK, offV, ldk, mask } = io;
  const { B, H, Tq, Tk, Dh } = s;
  const out = twinFill(B * Tq * H * Dh, NaN),
    lse = twinFill(B * H * Tq, NaN);
  both((x) =>
    nat().attentionForward(x(q), offQ, ldq, x(kv), offK, offV, ldk, mask ? x(mask) : null, x(out), x(lse), B, H, Tq, Tk, Dh, ...drop, 0),
  );
  const dkv = twinFill(io.dkvLength, 0);
  const dq = q === kv ? dkv : twinFill(io.dqLength, 0);
  both((x) =>
    nat().attentionBackward(
      x(dout),
      x(q),
      offQ,
      ldq,
      x(kv),
      offK,
      offV,
      ldk,
      mask ? x(mask) : null,
      x(out),
      x(lse),
      x(dq),
      offQ,
      x(dkv),
      offK,
      offV,
      B,
      H,
      Tq,
      Tk,
      Dh,
      ...drop,
      0,
    ),
  );
  return { out, lse, dq, dkv };
}
