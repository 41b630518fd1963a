// Finite-difference check of op wrappers through the tape: the gradient that backward()
// leaves on each input against central differences of the forward, every coordinate.
import assert from "node:assert/strict";
import { Tensor, tidy, backward, noGrad, mul, mean } from "../../src/engine";
import { lcg, randn } from "../helpers";

export interface Input {
  name: string;
  shape: number[];
  /** values (default: seeded normal) */
  data?: ArrayLike<number>;
  /** false: held constant, must get no gradient */
  grad?: boolean;
}

/**
 * loss = mean(op(inputs) * W) for a fixed random W (a scalar that weighs every output
 * differently), so every output element's gradient path is exercised. Checks each input
 * that requires grad, coordinate by coordinate; those that don't must get no gradient.
 */
export function checkGradients(
  label: string,
  inputs: Input[],
  op: (ts: Tensor[]) => Tensor,
  opts: { seed?: number; h?: number; tol?: number } = {},
): void {
  const rnd = lcg(opts.seed ?? 7);
  const values = inputs.map((i) =>
    Float32Array.from(
      i.data ??
        randn(
          i.shape.reduce((a, b) => a * b, 1),
          1,
          rnd,
        ),
    ),
  );
  const ts = inputs.map((i, k) => Tensor.from(values[k], i.shape, { requiresGrad: i.grad !== false }));
  let weights: Float32Array | null = null;
  const loss = (xs: Tensor[]) => {
    const y = op(xs);
    if (y.numel === 1) return y;
    weights ??= randn(y.numel, 1, lcg(99));
    return mean(mul(y, Tensor.from(weights, y.shape)));
  };
  tidy(() => backward(loss(ts)));
  const h = opts.h ?? 1e-2,
    tol = opts.tol ?? 2e-3;
  inputs.forEach((inp, k) => {
    const g = ts[k].grad;
    if (inp.grad === false) {
      assert.equal(g, null, `${label}: ${inp.name} is constant but got a gradient`);
      return;
    }
    assert.ok(g, `${label}: ${inp.name} got no gradient`);
    const got = g!.toFloat32();
    for (let j = 0; j < values[k].length; j++) {
      const at = (v: number) => {
        const xs = values.map((x, m) => {
          const d = m === k ? Float32Array.from(x, (e, i) => (i === j ? v : e)) : x;
          return Tensor.from(d, inputs[m].shape);
        });
        const out = noGrad(() => tidy(() => loss(xs).item()));
        for (const x of xs) x.dispose();
        return out;
      };
      const x0 = values[k][j];
      const fd = (at(x0 + h) - at(x0 - h)) / (2 * h);
      assert.ok(
        Math.abs(fd - got[j]) <= tol + 2e-2 * Math.abs(fd),
        `${label}: d/d${inp.name}[${j}] analytic ${got[j]} vs finite difference ${fd}`,
      );
    }
  });
  for (const t of ts) t.dispose();
}
