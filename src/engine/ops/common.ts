// Shared checks for op wrappers: every error names the op and the shapes involved.
import { Tensor, describe, expect, sameDevice } from "../tensor";
import { record } from "../autograd";

export function shapeError(op: string, msg: string, ...ts: Tensor[]): RangeError {
  return new RangeError(`${op}: ${msg} (${ts.map(describe).join(", ")})`);
}

export function check(cond: boolean, op: string, msg: string, ...ts: Tensor[]): void {
  if (!cond) throw shapeError(op, msg, ...ts);
}

export function checkLive(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.disposed) throw new Error(`${op}: an input tensor was disposed (${t})`);
}

export function sameShape(a: Tensor, b: Tensor): boolean {
  return a.shape.length === b.shape.length && a.shape.every((s, i) => s === b.shape[i]);
}

/** Checks two live f32 operands of an elementwise op: same device and shape; returns the device. */
export function checkElementwisePair(op: string, a: Tensor, b: Tensor) {
  checkLive(op, a, b);
  expect(op, a, "a", "f32");
  expect(op, b, "b", "f32");
  const device = sameDevice(op, a, b);
  check(sameShape(a, b), op, "shapes differ", a, b);
  return device;
}

/** Checks the operands of a linear head, h [n, d] @ W [C, d]^T (live, f32, one device); returns its shapes. */
export function checkHead(op: string, h: Tensor, w: Tensor) {
  checkLive(op, h, w);
  expect(op, h, "h", "f32", 2);
  expect(op, w, "W", "f32", 2);
  const device = sameDevice(op, h, w);
  const [n, d] = h.shape;
  const [C, d2] = w.shape;
  check(d === d2, op, `h has ${d} features but W rows have ${d2}`, h, w);
  return { device, n, d, C };
}

/** Rows with a class target (>= 0); a target >= classes is a RangeError naming the row. */
export function countTargets(op: string, targets: Int32Array, classes: number): number {
  let count = 0;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t >= classes) throw new RangeError(`${op}: target ${t} at row ${i} is out of range for ${classes} classes`);
    if (t >= 0) count++;
  }
  return count;
}

/**
 * An elementwise f32 op y = f(x): checks x, runs forward(y), and records a backward that
 * writes all of x's gradient (accumulate false: the slot is new) or adds to it, only when x
 * needs one.
 */
export function unaryOp(
  op: string,
  x: Tensor,
  forward: (y: Tensor) => void,
  backward: (y: Tensor, g: Tensor, dx: Tensor, accumulate: boolean) => void,
): Tensor {
  checkLive(op, x);
  expect(op, x, "x", "f32");
  const y = Tensor.empty(x.shape, { device: x.device }); // forward writes every element
  forward(y);
  return record(y, {
    op,
    inputs: [x],
    backward(ctx, g) {
      const dx = ctx.target(x);
      if (dx) backward(y, g as Tensor, dx.grad, dx.accumulate);
    },
  });
}
