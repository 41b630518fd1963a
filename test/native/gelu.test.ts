// GELU (tanh): forward against a float64 reference, backward against finite
// differences of it.
import { test } from "node:test";
import { assertClose, f32, freeAll, nat, read, rng, uniform, zeros } from "./helpers";

function gelu64(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

test("gelu: forward and backward (accumulate) on odd sizes", () => {
  const rand = rng(10);
  for (const n of [1, 7, 33, 1023, 40000]) {
    const x = uniform(rand, n, -5, 5),
      w = uniform(rand, n),
      d0 = uniform(rand, n);
    const y = zeros(n);
    nat.geluForward(f32(x), y, n);
    assertClose(read(y), Array.from(x, gelu64), `gelu forward n=${n}`, 1e-6, 1e-5);
    for (const accumulate of [false, true]) {
      const dx = f32(d0);
      nat.geluBackward(f32(x), f32(w), dx, n, accumulate);
      // gelu is elementwise: the gradient of sum w*gelu(x) is w * gelu'(x), by central difference.
      const h = 1e-5;
      const want = Array.from(x, (v, i) => (accumulate ? d0[i] : 0) + (w[i] * (gelu64(v + h) - gelu64(v - h))) / (2 * h));
      assertClose(read(dx), want, `gelu backward n=${n} accumulate=${accumulate}`, 1e-5, 1e-4);
    }
  }
  freeAll();
});
