// Cross-entropy family: softmaxCrossEntropy (mean softmax cross-entropy of logits
// against class targets) and linearCrossEntropy (the LM head fused with it). Both are
// scalar losses whose gradient is a host number (see autograd.ts), so the backward
// pass never waits on the device for it.
//
// linearCrossEntropy works in row chunks: logits = h W^T and the
// mean cross-entropy of the targets, without ever holding all [n, C] logits when they
// are large. Forward keeps each row's log-sum-exp; backward recomputes one chunk of
// logits at a time (or reuses them when they were small enough to keep), turns it into
// dlogits in place, and accumulates dh (and dW when W trains). With a 50,257-word head
// and long reviews this is the difference between gigabytes and a few hundred megabytes.
import { native } from "../native";
import { Tensor, expect, sameDevice } from "../tensor";
import { record, isGradEnabled } from "../autograd";
import { check, checkHead, checkLive, countTargets } from "./common";
import { meanOf } from "./reduce";
import { combineLosses } from "./elementwise";
import { linearMultinomialNll } from "./multinomial_nll";

/**
 * Mean softmax cross-entropy over the rows of logits [R, C] whose target is >= 0
 * (targets int32 [R]; -1 masks a row). targetsHost gives the count without a device read.
 */
export function softmaxCrossEntropy(logits: Tensor, targets: Tensor, targetsHost: Int32Array): Tensor {
  const op = "softmaxCrossEntropy";
  checkLive(op, logits, targets);
  expect(op, logits, "logits", "f32", 2);
  expect(op, targets, "targets", "i32");
  const device = sameDevice(op, logits, targets);
  const [R, C] = logits.shape;
  check(targets.numel === R && targetsHost.length === R, op, `targets must have ${R} entries`, logits, targets);
  const count = countTargets(op, targetsHost, C);
  const loss = Tensor.zeros([R], { device });
  const lse = Tensor.zeros([R], { device });
  native().crossEntropyForward(logits.buffer, targets.buffer, loss.buffer, lse.buffer, R, C);
  const out = meanOf(loss, Math.max(count, 1));
  return record(out, {
    op,
    inputs: [logits],
    scalar: true,
    backward(ctx, g) {
      if (count === 0) return;
      const dl = ctx.target(logits);
      if (!dl) return;
      const dloss = Tensor.full([R], (g as number) / count, { device });
      native().crossEntropyBackward(logits.buffer, targets.buffer, lse.buffer, dloss.buffer, dl.grad.buffer, R, C, dl.accumulate);
      dloss.dispose();
    },
  });
}

/** Rows per chunk so that a chunk of logits stays near 64 MiB. */
export function defaultChunkRows(classes: number): number {
  return Math.max(16, Math.floor((64 * 1024 * 1024) / 4 / Math.max(classes, 1)));
}

export interface LinearXentOptions {
  /** rows per chunk (default: about 64 MiB of logits per chunk) */
  chunkRows?: number;
  /**
   * Columns (classes) per chunk instead of row chunks: each chunk of W is read for all rows
   * at once (linearMultinomialNll on one-hot targets). Default: used for a W that trains
   * when row chunks of the default size would not hold all rows, since row chunks then read
   * all of W (and write all of dW) once per chunk: at 1M classes and 600 rows, 38 times.
   */
  chunkColumns?: number;
  /** logits up to this many bytes in all are kept for the backward instead of recomputed (default 256 MiB) */
  keepBytes?: number;
  /**
   * The fused CPU kernel (one pass over W with an online softmax that also yields the input
   * gradient, so the backward is an axpy): used on the CPU when W needs no gradient. Default
   * true unless CLLM4REC_FUSED_HEAD=0; false keeps the chunked path (the earlier version).
   */
  fused?: boolean;
  /**
   * W [C, d] in BF16 (toBf16) for a frozen W on CUDA: the logits and dh GEMMs read it on the
   * tensor cores (gemmBf16B, h and dlogits rounded to BF16, fp32 accumulation).
   */
  wBf16?: Tensor | null;
  /** W frozen in BF16 for the CPU's fused head (packHeadBf16): both of its products on AVX512_BF16 */
  headBf16?: HeadBf16 | null;
}

/** A frozen W [C, d] packed once for the CPU's BF16 fused head: the logits' and the gradient's B operands. */
export interface HeadBf16 {
  readonly logits: Tensor;
  readonly grad: Tensor;
  readonly classes: number;
  readonly features: number;
}

/** Packs a frozen CPU W [C, d] for linearCrossEntropy's headBf16 (needs native().bf16Supported()). */
export function packHeadBf16(w: Tensor): HeadBf16 {
  const op = "packHeadBf16";
  checkLive(op, w);
  expect(op, w, "W", "f32", 2);
  check(w.device === "cpu" && !w.requiresGrad, op, "W must be a frozen CPU tensor", w);
  const nat = native();
  if (!nat.bf16Supported()) throw new Error(`${op}: this CPU has no AVX512_BF16 (or CLLM4REC_CPU_ISA caps it)`);
  const [C, d] = w.shape;
  const logits = Tensor.empty([nat.bf16PackedWords(d, C)], { dtype: "i32" });
  nat.bf16PackB(true, w.buffer, d, C, logits.buffer);
  const grad = Tensor.empty([nat.bf16PackedWords(C, d)], { dtype: "i32" });
  nat.bf16PackB(false, w.buffer, C, d, grad.buffer);
  return { logits, grad, classes: C, features: d };
}

/** Whether the fused head + cross-entropy kernel is on by default (CLLM4REC_FUSED_HEAD=0 turns it off). */
export function fusedHeadDefault(): boolean {
  return process.env.CLLM4REC_FUSED_HEAD !== "0";
}

/**
 * Mean over rows with target >= 0 of -log softmax(h W^T)[target]; h [n, d], W [C, d]
 * (the tied-embedding layout), targets int32 [n] with -1 for masked rows.
 */
export function linearCrossEntropy(h: Tensor, w: Tensor, targetsHost: Int32Array, opts: LinearXentOptions = {}): Tensor {
  const op = "linearCrossEntropy";
  const { device, n, d, C } = checkHead(op, h, w);
  check(targetsHost.length === n, op, `targets must have ${n} entries, got ${targetsHost.length}`, h);
  const count = countTargets(op, targetsHost, C);
  const nat = native();
  const packed = opts.headBf16 ?? null;
  if (packed)
    check(
      device === "cpu" && !w.requiresGrad && packed.classes === C && packed.features === d && !packed.logits.disposed,
      op,
      `headBf16 must be packHeadBf16 of this frozen CPU W (it packs ${packed.classes}x${packed.features})`,
      w,
    );
  if (device === "cpu" && !w.requiresGrad && (opts.fused ?? fusedHeadDefault()))
    return fusedLinearCrossEntropy(h, w, targetsHost, count, packed);
  const byColumns =
    opts.chunkColumns !== undefined || (w.requiresGrad && opts.chunkRows === undefined && !opts.wBf16 && defaultChunkRows(C) < n);
  if (byColumns) return columnChunkedCrossEntropy(h, w, targetsHost, count, opts.chunkColumns ?? defaultChunkColumns(n));
  const wh = opts.wBf16 ?? null;
  if (wh)
    check(
      !w.requiresGrad && wh.device === device && wh.dtype === "i32" && wh.numel === Math.ceil((C * d) / 2) && !wh.disposed,
      op,
      `wBf16 must be the BF16 words (${Math.ceil((C * d) / 2)} int32) of a frozen W on ${device}`,
      w,
    );
  // logits [rows, C] = h[start..] W^T, in BF16 when W is held so
  const logitsOf = (start: number, rows: number, out: Tensor) => {
    if (wh) nat.gemmBf16B(false, true, rows, C, d, 1, h.buffer, start * d, wh.buffer, 0, out.buffer, 0, null);
    else nat.gemm(false, true, rows, C, d, 1, h.buffer, start * d, 0, w.buffer, 0, 0, 0, out.buffer, 0, 0, 1, null);
  };
  const rowsPer = Math.max(1, Math.floor(opts.chunkRows ?? defaultChunkRows(C)));
  // small heads keep their logits (no recompute); large ones trade a GEMM for memory
  const keep = n * C * 4 <= (opts.keepBytes ?? 256 * 1024 * 1024);
  const chunks: { start: number; rows: number; targets: Tensor; lse: Tensor; logits: Tensor | null }[] = [];
  const total = Tensor.zeros([1], { device });
  for (let start = 0; start < n; start += rowsPer) {
    const rows = Math.min(rowsPer, n - start);
    const targets = Tensor.from(targetsHost.subarray(start, start + rows), [rows], { device, dtype: "i32" });
    // every one is written in full (masked rows get loss 0, lse 0)
    const lse = Tensor.empty([rows], { device });
    const loss = Tensor.empty([rows], { device });
    const partial = Tensor.empty([1], { device });
    const logits = Tensor.empty([rows, C], { device });
    logitsOf(start, rows, logits);
    nat.crossEntropyForward(logits.buffer, targets.buffer, loss.buffer, lse.buffer, rows, C);
    nat.sum(loss.buffer, rows, partial.buffer);
    nat.add(partial.buffer, 1, null, 0, total.buffer, 1, true);
    loss.dispose();
    partial.dispose();
    if (!keep) logits.dispose();
    chunks.push({ start, rows, targets, lse, logits: keep ? logits : null });
  }
  if (count > 1) nat.add(total.buffer, 1 / count, null, 0, total.buffer, 1, false);
  return record(total, {
    op,
    inputs: [h, w],
    scalar: true,
    backward(ctx, g) {
      const dh = ctx.slot(h),
        dw = ctx.slot(w);
      if ((!dh && !dw) || count === 0) return;
      for (const c of chunks) {
        const logits = c.logits ?? Tensor.empty([c.rows, C], { device }); // recomputed in full below
        const dloss = Tensor.full([c.rows], (g as number) / count, { device });
        if (!c.logits) logitsOf(c.start, c.rows, logits);
        // dlogits overwrite the logits they come from (the kernel allows the alias)
        nat.crossEntropyBackward(logits.buffer, c.targets.buffer, c.lse.buffer, dloss.buffer, logits.buffer, c.rows, C, false);
        if (dh && wh) nat.gemmBf16B(false, false, c.rows, d, C, 1, logits.buffer, 0, wh.buffer, 1, dh.buffer, c.start * d, null);
        else if (dh) nat.gemm(false, false, c.rows, d, C, 1, logits.buffer, 0, 0, w.buffer, 0, 0, 1, dh.buffer, c.start * d, 0, 1, null);
        if (dw) nat.gemm(true, false, C, d, c.rows, 1, logits.buffer, 0, 0, h.buffer, c.start * d, 0, 1, dw.buffer, 0, 0, 1, null);
        logits.dispose();
        dloss.dispose();
      }
    },
  });
}

/** Columns per chunk so that a chunk of logits over n rows stays near 64 MiB (a multiple of 32, 1,024 to 16,384). */
export function defaultChunkColumns(rows: number): number {
  const cols = Math.floor((64 * 1024 * 1024) / 4 / Math.max(rows, 1) / 32) * 32;
  return Math.min(16384, Math.max(1024, cols));
}

// Column chunks: the cross-entropy of class targets is the multinomial NLL of one-hot
// targets, so linearMultinomialNll (online log-sum-exp over column chunks; the backward
// recomputes each chunk's logits and forms dh and that chunk's rows of dW) does the work. A
// masked row has no target, hence loss 0 and gradient 0; its mean over all n rows, times
// n / count, is the mean over the rows with a target.
function columnChunkedCrossEntropy(h: Tensor, w: Tensor, targetsHost: Int32Array, count: number, chunkColumns: number): Tensor {
  const n = targetsHost.length;
  const rowPtr = new Int32Array(n + 1),
    cols = new Int32Array(count);
  for (let r = 0, k = 0; r < n; r++) {
    if (targetsHost[r] >= 0) cols[k++] = targetsHost[r];
    rowPtr[r + 1] = k;
  }
  const nll = linearMultinomialNll(h, w, { rowPtr, cols, columns: w.shape[0] }, { chunkColumns });
  return count > 0 ? combineLosses([[nll, n / count]]) : nll;
}

// The fused path: loss, and (when h needs a gradient) the unit gradient dh[r] =
// softmax(h W^T)[r] W - W[target[r]] from the same pass, so backward scales and adds it.
function fusedLinearCrossEntropy(h: Tensor, w: Tensor, targetsHost: Int32Array, count: number, packed: HeadBf16 | null): Tensor {
  const op = "linearCrossEntropy";
  const [n, d] = h.shape;
  const C = w.shape[0];
  const nat = native();
  const needDh = isGradEnabled() && h.requiresGrad && count > 0;
  const targets = Tensor.from(targetsHost, [n], { dtype: "i32" });
  // the kernel writes every row (masked ones: loss 0, lse 0, dh 0)
  const loss = Tensor.empty([n]),
    lse = Tensor.empty([n]);
  const dhUnit = needDh ? Tensor.empty([n, d]) : null; // [n, d]
  const dhBuf = dhUnit ? dhUnit.buffer : null;
  if (n > 0 && packed)
    nat.linearXentBf16Forward(
      h.buffer,
      w.buffer,
      packed.logits.buffer,
      packed.grad.buffer,
      targets.buffer,
      loss.buffer,
      lse.buffer,
      dhBuf,
      n,
      C,
      d,
    );
  else if (n > 0) nat.linearXentForward(h.buffer, w.buffer, targets.buffer, loss.buffer, lse.buffer, dhBuf, n, C, d);
  const total = Tensor.zeros([1]);
  if (n > 0) nat.sum(loss.buffer, n, total.buffer);
  if (count > 1) nat.add(total.buffer, 1 / count, null, 0, total.buffer, 1, false);
  targets.dispose();
  loss.dispose();
  lse.dispose();
  return record(total, {
    op,
    inputs: [h, w],
    scalar: true,
    backward(ctx, g) {
      if (!dhUnit || dhUnit.disposed) return;
      const dh = ctx.target(h);
      if (dh) nat.add(dhUnit.buffer, (g as number) / count, null, 0, dh.grad.buffer, n * d, dh.accumulate);
    },
  });
}
