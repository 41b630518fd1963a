// copyStrided: batched strided 2-D block copy against a float64 reference.
import { test } from "node:test";
import { assertClose, f32, freeAll, nat, read, rng, uniform } from "./helpers";

test("copyStrided: batched 2-D block copy and accumulate (a slice of a wider tensor)", () => {
  const rand = rng(4);
  const batch = 3,
    rows = 7,
    cols = 5;
  // src: [batch, rows, 9] taking columns 2..7; dst: [batch, 8, 6] rows 1..8, columns 1..6.
  const src = uniform(rand, batch * rows * 9),
    dst0 = uniform(rand, batch * 8 * 6 + 1);
  for (const accumulate of [false, true]) {
    const dst = f32(dst0);
    nat.copyStrided(dst, 1 * 6 + 1, 8 * 6, 6, f32(src), 2, rows * 9, 9, batch, rows, cols, accumulate);
    const want = Float64Array.from(dst0);
    for (let b = 0; b < batch; b++)
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          const d = 7 + b * 48 + r * 6 + c,
            s = 2 + b * rows * 9 + r * 9 + c;
          want[d] = (accumulate ? want[d] : 0) + src[s];
        }
    assertClose(read(dst), want, `copyStrided accumulate=${accumulate}`);
  }
  freeAll();
});
