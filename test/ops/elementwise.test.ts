// Elementwise op wrappers through the autograd tape: add, scale, reshape and
// combineLosses against finite differences one by one, and the gradient of a
// scalar loss built from mul, tanh, exp, logSigmoid, rowSum and mean against central
// finite differences of a float64 reimplementation; shape errors name the op.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tidy,
  backward,
  add,
  scale,
  reshape,
  combineLosses,
  mul,
  tanh,
  exp,
  logSigmoid,
  rowSum,
  mean,
  native,
} from "../../src/engine";
import { checkGradients } from "./fd";
import { lcg } from "../helpers";

const R = 3,
  C = 4;
const logSigmoid64 = (v: number) => (v >= 0 ? -Math.log1p(Math.exp(-v)) : v - Math.log1p(Math.exp(v)));

// loss(a, b) = 0.7 * mean(logSigmoid(rowSum(mul(tanh(a), exp(b, 0.5))))) - 0.2 * mean(mul(a, a))
function loss64(a: number[], b: number[]): number {
  let s = 0;
  for (let r = 0; r < R; r++) {
    let row = 0;
    for (let c = 0; c < C; c++) row += Math.tanh(a[r * C + c]) * Math.exp(0.5 * b[r * C + c]);
    s += logSigmoid64(row);
  }
  const sq = a.reduce((t, v) => t + v * v, 0);
  return (0.7 * s) / R - (0.2 * sq) / (R * C);
}

test("elementwise ops: tape gradients of a composite loss match finite differences", () => {
  const rnd = lcg(3);
  const a0 = Array.from({ length: R * C }, () => 2 * rnd() - 1);
  const b0 = Array.from({ length: R * C }, () => 2 * rnd() - 1);
  const a = Tensor.from(a0, [R, C], { requiresGrad: true });
  const b = Tensor.from(b0, [R, C], { requiresGrad: true });
  const value = tidy(() => {
    const l = combineLosses([
      [mean(logSigmoid(rowSum(mul(tanh(a), exp(b, 0.5))))), 0.7],
      [mean(mul(a, a)), -0.2],
    ]);
    backward(l);
    return l.item();
  });
  assert.ok(Math.abs(value - loss64(a0, b0)) < 1e-5, `loss ${value} vs ${loss64(a0, b0)}`);
  const h = 1e-5;
  for (const [t, x0, which] of [
    [a, a0, "a"],
    [b, b0, "b"],
  ] as const) {
    const g = t.grad!.toFloat32();
    for (let k = 0; k < x0.length; k++) {
      const up = [...x0],
        dn = [...x0];
      up[k] += h;
      dn[k] -= h;
      const fd = which === "a" ? (loss64(up, b0) - loss64(dn, b0)) / (2 * h) : (loss64(a0, up) - loss64(a0, dn)) / (2 * h);
      assert.ok(Math.abs(fd - g[k]) <= 1e-5 + 1e-3 * Math.abs(fd), `d/d${which}[${k}]: tape ${g[k]} vs finite difference ${fd}`);
    }
  }
  a.dispose();
  b.dispose();
});

test("mul: a frozen operand gets no gradient kernel; the other gets g * frozen", () => {
  const x = Tensor.from([1, 2, 3], [3], { requiresGrad: true });
  const m = Tensor.from([0, 2, 2], [3]); // a dropout mask with p = 0.5
  native().resetStats();
  tidy(() => backward(mean(mul(x, m))));
  assert.equal(native().stats().launches.mul, 2, "one forward, one backward (for x only)");
  assert.deepEqual([...x.grad!.toFloat32()], [0, Math.fround(2 / 3), Math.fround(2 / 3)]);
  x.dispose();
  m.dispose();
});

test("elementwise ops: errors name the op and the shapes", () => {
  const a = Tensor.from([1, 2, 3, 4], [2, 2]),
    b = Tensor.from([1, 2, 3], [3]),
    i = Tensor.from(Int32Array.from([1]), [1]);
  assert.throws(() => mul(a, b), /^RangeError: mul: shapes differ \(\[2, 2\] f32 on cpu, \[3\] f32 on cpu\)/);
  assert.throws(() => rowSum(b), /rowSum: x must have rank 2, got \[3\] f32 on cpu/);
  assert.throws(() => tanh(i), /tanh: x must be f32, got \[1\] i32 on cpu/);
  assert.throws(() => exp(a, NaN), /exp: scale must be finite/);
  assert.throws(() => mean(Tensor.zeros([0])), /mean: x is empty/);
  for (const t of [a, b, i]) t.dispose();
});

test("add, scale, reshape and combineLosses: gradients against finite differences", () => {
  checkGradients(
    "add",
    [
      { name: "a", shape: [2, 3] },
      { name: "b", shape: [2, 3] },
    ],
    ([a, b]) => add(a, b),
  );
  checkGradients(
    "add frozen b",
    [
      { name: "a", shape: [2, 3] },
      { name: "b", shape: [2, 3], grad: false },
    ],
    ([a, b]) => add(a, b),
  );
  checkGradients("scale", [{ name: "a", shape: [4] }], ([a]) => scale(a, -1.5));
  checkGradients("reshape", [{ name: "a", shape: [2, 3] }], ([a]) => rowSum(reshape(a, [3, 2])));
  checkGradients(
    "combineLosses",
    [
      { name: "a", shape: [3] },
      { name: "b", shape: [2, 2] },
    ],
    ([a, b]) =>
      combineLosses([
        [mean(a), 0.5],
        [mean(mul(b, b)), -2],
      ]),
  );
});
