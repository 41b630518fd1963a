// The vocabulary head with a frozen W held in BF16 on CUDA (linearCrossEntropy's wBf16, the
// content head's wte with --dtype bf16) against the FP32 CPU head: loss within 1e-2
// relative and dh within 1e-2 relative RMS (BF16: 2^-8 relative per operand; measured on
// the simulator: loss 1.5e-5 relative, dh 2.7e-3), kept and recomputed logits, masked rows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, tidy, backward, native, toBf16 } from "../../src/engine";
import { linearCrossEntropy } from "../../src/engine/ops/cross_entropy";
import { lcg, randn } from "../helpers";
import { skipCuda, plumbing } from "./twin";

const skip = skipCuda || (plumbing ? "plumbing mode runs no CUDA kernels" : false);

test("CUDA vocabulary head on a BF16 W: FP32 CPU loss and dh within 1e-2, wBf16 checked", { skip }, () => {
  const rnd = lcg(21);
  const n = 9,
    d = 24,
    C = 70;
  const targets = Int32Array.from({ length: n }, (_, i) => (i % 4 === 3 ? -1 : (i * 11) % C));
  const hData = randn(n * d, 1, rnd),
    wData = randn(C * d, 0.5, rnd);
  const run = (device: "cpu" | "cuda", bf16: boolean, keepBytes?: number) =>
    tidy(() => {
      const h = Tensor.from(hData, [n, d], { requiresGrad: true, device });
      const w = Tensor.from(wData, [C, d], { device });
      const wh = bf16 ? toBf16(w) : null;
      const loss = linearCrossEntropy(h, w, targets, { wBf16: wh, chunkRows: 4, keepBytes, fused: false });
      const value = loss.item();
      backward(loss);
      const out = { value, dh: h.grad!.toFloat32() };
      h.dispose();
      w.dispose();
      wh?.dispose();
      return out;
    });
  const ref = run("cpu", false);
  for (const keepBytes of [undefined, 0]) {
    const before = native().stats().launches.gemmBf16B ?? 0;
    const got = run("cuda", true, keepBytes);
    const launched = (native().stats().launches.gemmBf16B ?? 0) - before;
    // 3 chunks of 4 rows: logits forward, dh backward (+ the logits again when not kept)
    assert.equal(launched, keepBytes === 0 ? 9 : 6);
    const rel = Math.abs(got.value - ref.value) / Math.abs(ref.value);
    assert.ok(rel < 1e-2, `loss ${got.value} vs ${ref.value}: relative ${rel}`);
    let num = 0,
      den = 0;
    got.dh.forEach((v, i) => {
      num += (v - ref.dh[i]) ** 2;
      den += ref.dh[i] ** 2;
    });
    const e = Math.sqrt(num / den);
    assert.ok(e < 1e-2 && e > 0, `dh relative RMS ${e} (0 would mean BF16 never ran)`);
  }
  const w = Tensor.from(wData, [C, d], { device: "cuda", requiresGrad: true });
  const h = Tensor.from(hData, [n, d], { device: "cuda" });
  const w32 = Tensor.from(wData, [C, d], { device: "cuda" });
  const wh = toBf16(w32);
  assert.throws(() => linearCrossEntropy(h, w, targets, { wBf16: wh }), /wBf16 must be the BF16 words .* of a frozen W/);
  for (const t of [w, h, w32, wh]) t.dispose();
});
