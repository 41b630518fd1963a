// squaredDistance: forward against float64, backward against finite differences.
import { test } from "node:test";
import { assertClose, f32, freeAll, nat, numericGrad, read, rng, uniform, zeros } from "./helpers";

test("squaredDistance: forward against float64, backward against finite differences", () => {
  const rand = rng(5);
  for (const n of [1, 7, 1023]) {
    const a = uniform(rand, n),
      b = uniform(rand, n),
      g0 = uniform(rand, n);
    const out = zeros(1);
    nat.squaredDistanceForward(f32(a), f32(b), n, out);
    const f = (x: Float64Array) => x.reduce((s, v, i) => s + (v - b[i]) ** 2, 0);
    assertClose(read(out), [f(Float64Array.from(a))], `squaredDistance forward n=${n}`);
    const gscale = 0.7;
    const da = f32(g0);
    nat.squaredDistanceBackward(f32(a), f32(b), f32([gscale]), da, n, true);
    const fd = numericGrad(f, a, 1e-4);
    assertClose(
      read(da),
      Array.from(fd, (v, i) => g0[i] + gscale * v),
      `squaredDistance backward n=${n}`,
      1e-4,
    );
  }
  freeAll();
});
