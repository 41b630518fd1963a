// Adam: the kernel against a hand-written float64 step.
import { test } from "node:test";
import { assertClose, f32, freeAll, nat, read, rng, uniform, zeros } from "./helpers";

test("adam: matches a hand-written float64 step over three steps", () => {
  const rand = rng(6);
  const n = 33,
    lr = 1e-2,
    b1 = 0.9,
    b2 = 0.999,
    eps = 1e-8;
  const p0 = uniform(rand, n);
  const p = f32(p0),
    m = zeros(n),
    v = zeros(n);
  const wp = Float64Array.from(p0),
    wm = new Float64Array(n),
    wv = new Float64Array(n);
  for (let step = 1; step <= 3; step++) {
    const g = uniform(rand, n);
    nat.adam(p, f32(g), m, v, n, lr, b1, b2, eps, step);
    for (let i = 0; i < n; i++) {
      wm[i] = b1 * wm[i] + (1 - b1) * g[i];
      wv[i] = b2 * wv[i] + (1 - b2) * g[i] * g[i];
      const mhat = wm[i] / (1 - b1 ** step),
        vhat = wv[i] / (1 - b2 ** step);
      wp[i] -= (lr * mhat) / (Math.sqrt(vhat) + eps);
    }
  }
  assertClose(read(p), wp, "adam p", 1e-6, 1e-5);
  assertClose(read(m), wm, "adam m", 1e-7, 1e-5);
  assertClose(read(v), wv, "adam v", 1e-9, 1e-4);
  freeAll();
});
