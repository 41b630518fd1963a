// Shared checks for op wrappers: every error names the op and the shapes involved.
import { Tensor, describe } from "../tensor";

export function shapeError(op: string, msg: string, ...ts: Tensor[]): RangeError {
  return new RangeError(`${op}: ${msg} (${ts.map(describe).join(", ")})`);
}

export function check(cond: boolean, op: string, msg: string, ...ts: Tensor[]): void {
  if (!cond) throw shapeError(op, msg, ...ts);
}

export function checkLive(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.disposed) throw new Error(`${op}: an input tensor was disposed (${t})`);
}
