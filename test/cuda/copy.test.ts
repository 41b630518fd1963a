// CUDA copyStrided against the CPU kernel. Skipped without a GPU.
import { test, after } from "node:test";
import { both, expectClose, freeAll, nat, rng, skipCuda, twinF32, uniform, TOL_ELEMENTWISE } from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

test("cuda copy_strided: batched slices with offsets, copy and accumulate", { skip: skipCuda }, () => {
  const rand = rng(4);
  const batch = 3,
    rows = 7,
    cols = 33;
  const srcRow = 40,
    srcBatch = rows * srcRow + 5,
    dstRow = 70,
    dstBatch = rows * dstRow + 1;
  const src = twinF32(uniform(rand, batch * srcBatch + 10));
  const dst = twinF32(uniform(rand, batch * dstBatch + 20));
  both((x) => nat().copyStrided(x(dst), 4, dstBatch, dstRow, x(src), 2, srcBatch, srcRow, batch, rows, cols, false));
  expectClose(dst, "copy_strided", 0, 0);
  both((x) => nat().copyStrided(x(dst), 9, dstBatch, dstRow, x(src), 1, srcBatch, srcRow, batch, rows, cols, true));
  expectClose(dst, "copy_strided accumulate", TOL_ELEMENTWISE);
});
