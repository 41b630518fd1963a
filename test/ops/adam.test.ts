// The Adam optimizer (src/nn/adam.ts, the TypeScript side of the adam family) against a
// float64 reimplementation over three steps; zeroGrad clears the gradients it updated from.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/engine";
import { Adam } from "../../src/nn/adam";

test("Adam: three bias-corrected steps match float64; zeroGrad zeroes the gradients", () => {
  const p0 = [0.5, -1, 2, 0.25],
    grads = [
      [0.1, -0.2, 0.3, 0],
      [-0.05, 0.4, 0.1, 1],
      [0.2, 0.2, -0.3, -1],
    ];
  const p = Tensor.from(p0, [4], { requiresGrad: true });
  const lr = 0.01,
    b1 = 0.9,
    b2 = 0.99,
    eps = 1e-6;
  const opt = new Adam([p], { lr, beta1: b1, beta2: b2, eps });
  const want = Float64Array.from(p0),
    m = new Float64Array(4),
    v = new Float64Array(4);
  grads.forEach((g, s) => {
    p.grad?.dispose();
    p.grad = Tensor.from(g, [4]);
    opt.step();
    for (let i = 0; i < 4; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      want[i] -= (lr * (m[i] / (1 - b1 ** (s + 1)))) / (Math.sqrt(v[i] / (1 - b2 ** (s + 1))) + eps);
    }
    const got = p.toFloat32();
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-6, `step ${s + 1} p[${i}]: ${got[i]} vs ${want[i]}`);
  });
  opt.zeroGrad();
  assert.deepEqual(Array.from(p.grad!.toFloat32()), [0, 0, 0, 0]);
  opt.dispose();
  p.dispose();
});
