// Row gathers: token embeddings over several tables that share one id space (the frozen
// GPT-2 vocabulary plus trainable user and item tables), and plain row selection.
// Gradients reach a table only through a deterministic scatter-add.
import { native } from "../native";
import { Tensor, expect, sameDevice } from "../tensor";
import { record } from "../autograd";
import { check, checkLive } from "./common";

export interface TablePart {
  /** [rows, d] */
  table: Tensor;
  /** ids in [base, base + rows) read this table */
  base: number;
}

/**
 * out[i] = the row of ids[i] in the part that covers it. idsHost (the same ids on the
 * host) is checked: every id must fall in exactly one part, else a RangeError.
 */
export function embedTokens(idsHost: Int32Array, ids: Tensor, parts: readonly TablePart[]): Tensor {
  const op = "embedTokens";
  checkLive(op, ids, ...parts.map((p) => p.table));
  expect(op, ids, "ids", "i32");
  check(ids.numel === idsHost.length, op, `idsHost has ${idsHost.length} ids`, ids);
  const device = sameDevice(op, ids, ...parts.map((p) => p.table));
  const d = parts[0].table.shape[1];
  for (const p of parts) check(p.table.shape.length === 2 && p.table.shape[1] === d, op, `tables must be [rows, ${d}]`, p.table);
  for (let i = 0; i < idsHost.length; i++) {
    const id = idsHost[i];
    let hits = 0;
    for (const p of parts) if (id >= p.base && id < p.base + p.table.shape[0]) hits++;
    if (hits !== 1) {
      const ranges = parts.map((p) => `[${p.base}, ${p.base + p.table.shape[0]})`).join(" ");
      throw new RangeError(`${op}: token id ${id} at position ${i} is ${hits ? "ambiguous" : "out of range"}; valid: ${ranges}`);
    }
  }
  const n = ids.numel;
  const out = Tensor.empty([n, d], { device }); // each id lies in exactly one table (checked above)
  for (const p of parts) native().gatherRows(p.table.buffer, p.table.shape[0], d, ids.buffer, n, p.base, out.buffer, false);
  return record(out, {
    op,
    inputs: parts.map((p) => p.table),
    backward(ctx, g) {
      for (const p of parts) {
        const dt = ctx.slot(p.table);
        if (dt) native().scatterAddRows(dt.buffer, p.table.shape[0], d, ids.buffer, n, p.base, (g as Tensor).buffer);
      }
    },
  });
}

/**
 * out[i] = x[idx[i]] for x [R, C]; every index must be in [0, R). With idxHost (the same
 * indices on the host) the range check runs here instead of reading a device buffer back.
 */
export function selectRows(x: Tensor, idx: Tensor, idxHost?: Int32Array): Tensor {
  const op = "selectRows";
  checkLive(op, x, idx);
  expect(op, x, "x", "f32", 2);
  expect(op, idx, "idx", "i32");
  const device = sameDevice(op, x, idx);
  const [R, C] = x.shape;
  const n = idx.numel;
  if (idxHost) {
    check(idxHost.length === n, op, `idxHost has ${idxHost.length} entries`, idx);
    for (let i = 0; i < n; i++)
      if (!(idxHost[i] >= 0 && idxHost[i] < R))
        throw new RangeError(`${op}: index ${idxHost[i]} at ${i} is outside [0, ${R}) for x [${R}, ${C}]`);
  }
  const out = Tensor.empty([n, C], { device }); // every index in range: checked here or by the kernel
  native().gatherRows(x.buffer, R, C, idx.buffer, n, 0, out.buffer, !idxHost);
  return record(out, {
    op,
    inputs: [x],
    backward(ctx, g) {
      const dx = ctx.slot(x);
      if (dx) native().scatterAddRows(dx.buffer, R, C, idx.buffer, n, 0, (g as Tensor).buffer);
    },
  });
}
