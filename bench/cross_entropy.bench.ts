// Fused softmax cross-entropy over the GPT-2 vocabulary: forward (loss + logsumexp) and
// backward (dlogits) kernels over R = 2,560 rows of given logits, against memory bandwidth.
import { native, Tensor } from "../src/engine";
import { type Ctx, type SuiteResult, type Row, time, sync, randomTensor, row } from "./common";

export const XENT_ROWS = 2560;
export const XENT_CLASSES = 50257;

export async function run(ctx: Ctx): Promise<SuiteResult> {
  const R = XENT_ROWS,
    C = XENT_CLASSES;
  const logits = randomTensor([R, C], ctx.device, 2, 5);
  const targets = Tensor.from(
    Int32Array.from({ length: R }, (_, i) => (i * 7919) % C),
    [R],
    { dtype: "i32", device: ctx.device },
  );
  const loss = Tensor.zeros([R], { device: ctx.device });
  const lse = Tensor.zeros([R], { device: ctx.device });
  const dloss = Tensor.full([R], 1 / R, { device: ctx.device });
  const dlogits = Tensor.zeros([R, C], { device: ctx.device });
  const n = native();
  const fwd = () => n.crossEntropyForward(logits.buffer, targets.buffer, loss.buffer, lse.buffer, R, C);
  const bwd = () => n.crossEntropyBackward(logits.buffer, targets.buffer, lse.buffer, dloss.buffer, dlogits.buffer, R, C, false);
  const bytes = 4 * R * C; // one pass over the logits
  const opts = { iterations: ctx.quick ? 1 : 10, timeMs: ctx.quick ? 0 : 500, warmupIterations: 1 };
  const rows: Row[] = [];
  const add = (name: string, fn: () => void, passes: number): void => {
    const t = time(
      name,
      () => {
        fn();
        sync();
      },
      opts,
    );
    const gbs = (passes * bytes) / (t.ms / 1000) / 1e9;
    rows.push(row(name, t, { "rows/s": R / (t.ms / 1000), "GB/s": gbs, "of bandwidth": (gbs * 1e9) / ctx.limits.bandwidth }, "rows/s"));
  };
  add(`fwd R=${R} C=${C}`, fwd, 1);
  add(`bwd R=${R} C=${C}`, bwd, 2);
  add(
    `fwd+bwd R=${R} C=${C}`,
    () => {
      fwd();
      bwd();
    },
    3,
  );
  for (const t of [logits, targets, loss, lse, dloss, dlogits]) t.dispose();
  return {
    suite: "cross_entropy",
    rows,
    notes: [
      `logits [${R}, ${C}] fp32 = ${(bytes / 1e6).toFixed(0)} MB; traffic counted as the minimum: fwd reads the logits once, ` +
        "bwd reads them and writes dlogits (no accumulate), fwd+bwd = 3 passes",
      `bandwidth: ${ctx.limits.bandwidthHow}`,
    ],
  };
}
