// Multinomial NLL family: the RecLLM head's loss, log-softmax against sparse multi-hot
// targets (CSR on the host, uploaded once per call). Scalar losses return a one-element
// tensor whose gradient is a host number (see autograd.ts), so the backward pass never
// waits on the device for it.
import { native } from "../native";
import { Tensor, expect, type Device } from "../tensor";
import { record } from "../autograd";
import { check, checkHead, checkLive } from "./common";
import { meanOf } from "./reduce";

/**
 * Targets of R rows over `columns` columns in CSR form: row r's targets are the columns
 * cols[rowPtr[r] .. rowPtr[r + 1]), strictly increasing, with weights `values` (absent:
 * every weight is 1, the multi-hot case).
 */
export interface SparseTargets {
  rowPtr: Int32Array; // [R + 1]
  cols: Int32Array; // [nnz]
  values?: Float32Array; // [nnz]
  columns: number;
}

/** CSR targets from each row's columns (any order, repeats counted once, weight 1); a column outside [0, columns) is a RangeError. */
export function multiHotTargets(rows: ArrayLike<number>[], columns: number, op = "multiHotTargets"): SparseTargets {
  const rowPtr = new Int32Array(rows.length + 1);
  const parts: Int32Array[] = [];
  rows.forEach((row, r) => {
    for (let k = 0; k < row.length; k++) {
      const c = row[k];
      if (!(Number.isInteger(c) && c >= 0 && c < columns))
        throw new RangeError(`${op}: column ${c} of row ${r} is outside [0, ${columns})`);
    }
    const sorted = Int32Array.from(row).sort();
    let n = 0;
    for (let k = 0; k < sorted.length; k++) if (n === 0 || sorted[n - 1] !== sorted[k]) sorted[n++] = sorted[k];
    parts.push(sorted.subarray(0, n));
    rowPtr[r + 1] = rowPtr[r] + n;
  });
  const cols = new Int32Array(rowPtr[rows.length]);
  for (let r = 0; r < parts.length; r++) cols.set(parts[r], rowPtr[r]);
  return { rowPtr, cols, columns };
}

interface DeviceTargets {
  R: number;
  C: number;
  nnz: number;
  rowPtr: Tensor;
  cols: Tensor;
  values: Tensor | null;
}

function upload(op: string, t: SparseTargets, R: number, C: number, device: Device): DeviceTargets {
  if (t.columns !== C) throw new RangeError(`${op}: targets have ${t.columns} columns but the scores ${C}`);
  if (t.rowPtr.length !== R + 1) throw new RangeError(`${op}: rowPtr must have ${R + 1} entries (R + 1), got ${t.rowPtr.length}`);
  const nnz = t.cols.length;
  if (t.values && t.values.length !== nnz)
    throw new RangeError(`${op}: values must have ${nnz} entries (one per column), got ${t.values.length}`);
  // the kernels check the rows and columns themselves (on CUDA without a host round trip)
  return {
    R,
    C,
    nnz,
    rowPtr: Tensor.from(t.rowPtr, [R + 1], { device, dtype: "i32" }),
    cols: Tensor.from(nnz > 0 ? t.cols : new Int32Array(1), [Math.max(1, nnz)], { device, dtype: "i32" }),
    values: t.values ? Tensor.from(nnz > 0 ? t.values : new Float32Array(1), [Math.max(1, nnz)], { device }) : null,
  };
}

function forwardChunk(logits: Tensor, t: DeviceTargets, c0: number, W: number, lse: Tensor, stx: Tensor, loss: Tensor): void {
  native().multinomialNllForward(
    logits.buffer,
    t.R,
    W,
    c0,
    t.C,
    t.rowPtr.buffer,
    t.cols.buffer,
    t.values ? t.values.buffer : null,
    t.nnz,
    lse.buffer,
    stx.buffer,
    loss.buffer,
    c0 === 0,
    c0 + W === t.C,
  );
}

function backwardChunk(
  logits: Tensor,
  t: DeviceTargets,
  c0: number,
  W: number,
  lse: Tensor,
  dloss: Tensor,
  dlogits: Tensor,
  accumulate: boolean,
): void {
  native().multinomialNllBackward(
    logits.buffer,
    t.R,
    W,
    c0,
    t.C,
    t.rowPtr.buffer,
    t.cols.buffer,
    t.values ? t.values.buffer : null,
    t.nnz,
    lse.buffer,
    dloss.buffer,
    dlogits.buffer,
    accumulate,
  );
}

/** Mean over rows of -sum_k t_k log softmax(logits[r])_{c_k}; logits [R, C], sparse nonnegative targets. */
export function multinomialNll(logits: Tensor, targets: SparseTargets): Tensor {
  const op = "multinomialNll";
  checkLive(op, logits);
  expect(op, logits, "logits", "f32", 2);
  const [R, C] = logits.shape;
  const device = logits.device;
  const t = upload(op, targets, R, C, device);
  const loss = Tensor.zeros([R], { device });
  const lse = Tensor.zeros([R], { device });
  const stx = Tensor.zeros([R], { device });
  forwardChunk(logits, t, 0, C, lse, stx, loss);
  const out = meanOf(loss, R);
  return record(out, {
    op,
    inputs: [logits],
    scalar: true,
    backward(ctx, g) {
      const dl = ctx.slot(logits);
      if (!dl) return;
      const dloss = Tensor.full([R], (g as number) / R, { device });
      backwardChunk(logits, t, 0, C, lse, dloss, dl, true);
      dloss.dispose();
    },
  });
}

/** Columns of the scores held at once by linearMultinomialNll unless told otherwise. */
export const HEAD_CHUNK_COLUMNS = 16384;

/**
 * The RecLLM head and its loss in one op: mean over rows of the multinomial NLL of
 * softmax(h W^T) against sparse targets; h [B, d], W [J, d] (the tied item table). The
 * scores are computed `chunkColumns` columns at a time with an online log-sum-exp over J,
 * and the backward recomputes each chunk's scores, so [B, J] never exists beyond one chunk
 * (one chunk, J <= chunkColumns, keeps its scores: the same kernels and products as
 * multinomialNll(matmul(h, W^T)), bit for bit). dh sums the chunks in a fixed order.
 */
export function linearMultinomialNll(h: Tensor, w: Tensor, targets: SparseTargets, opts: { chunkColumns?: number } = {}): Tensor {
  const op = "linearMultinomialNll";
  const { device, n: B, d, C: J } = checkHead(op, h, w);
  const chunk = Math.max(1, Math.min(J, Math.floor(opts.chunkColumns ?? HEAD_CHUNK_COLUMNS)));
  check(J >= 1, op, "W must have at least one row (item)", h, w);
  const t = upload(op, targets, B, J, device);
  const nat = native();
  const lse = Tensor.zeros([B], { device }),
    stx = Tensor.zeros([B], { device }),
    loss = Tensor.zeros([B], { device });
  const scores = Tensor.zeros([B, chunk], { device }); // [B, chunk]: one chunk of h W^T
  // scores[:, 0 .. width) = h W[c0 .. c0 + width)^T
  const chunkScores = (c0: number, width: number) =>
    nat.gemm(false, true, B, width, d, 1, h.buffer, 0, 0, w.buffer, c0 * d, 0, 0, scores.buffer, 0, 0, 1, null);
  for (let c0 = 0; c0 < J; c0 += chunk) {
    const width = Math.min(chunk, J - c0);
    chunkScores(c0, width);
    forwardChunk(scores, t, c0, width, lse, stx, loss);
  }
  const keep = chunk === J;
  if (!keep) scores.dispose();
  const out = meanOf(loss, B);
  return record(out, {
    op,
    inputs: [h, w],
    scalar: true,
    backward(ctx, g) {
      const dh = ctx.slot(h),
        dw = ctx.slot(w);
      if (!dh && !dw) return;
      const dloss = Tensor.full([B], (g as number) / B, { device });
      const s = keep ? scores : Tensor.zeros([B, chunk], { device });
      for (let c0 = 0; c0 < J; c0 += chunk) {
        const width = Math.min(chunk, J - c0);
        if (!keep) nat.gemm(false, true, B, width, d, 1, h.buffer, 0, 0, w.buffer, c0 * d, 0, 0, s.buffer, 0, 0, 1, null);
        // the chunk's dscores overwrite its scores (the kernel allows the alias)
        backwardChunk(s, t, c0, width, lse, dloss, s, false);
        if (dh) nat.gemm(false, false, B, d, width, 1, s.buffer, 0, 0, w.buffer, c0 * d, 0, 1, dh.buffer, 0, 0, 1, null);
        if (dw) nat.gemm(true, false, width, d, B, 1, s.buffer, 0, 0, h.buffer, 0, 0, 1, dw.buffer, c0 * d, 0, 1, null);
      }
      if (!keep) s.dispose();
      dloss.dispose();
    },
  });
}
