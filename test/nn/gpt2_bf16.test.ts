// GPT-2 with BF16 block weights (--dtype bf16) against the same model in fp32: hidden
// states and the input gradient agree to the documented tolerance (relative RMS < 2e-2),
// the BF16 GEMMs run instead of fp32 ones for the blocks, and unsupported setups fall
// back to fp32 with a reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, tidy, backward, native, mean, mul, linearCrossEntropy } from "../../src/engine";
import { Gpt2 } from "../../src/nn/gpt2";
import { randomGpt2Weights, lcg, randn } from "../helpers";

const cfg = { vocabSize: 50, nPositions: 32, nEmbd: 64, nLayer: 2, nHead: 4, layerNormEpsilon: 1e-5 };

function run(model: Gpt2, x0: Float32Array, B: number, T: number) {
  return tidy(() => {
    const x = Tensor.from(x0, [B * T, cfg.nEmbd], { requiresGrad: true });
    const mask = Tensor.from(new Int32Array(B * T).fill(1), [B * T], { dtype: "i32" });
    const { hidden } = model.forward(x, mask, B, T);
    const h = hidden.toFloat32();
    const w = Tensor.from(randn(B * T * cfg.nEmbd, 1, lcg(5)), [B * T, cfg.nEmbd]);
    const loss = hiddenDot(hidden, w);
    backward(loss);
    const dx = x.grad!.toFloat32();
    x.dispose();
    return { h, dx };
  });
}

// loss = mean(hidden * w): a scalar whose gradient reaches every hidden state
function hiddenDot(h: Tensor, w: Tensor): Tensor {
  return mean(mul(h, w));
}

const relRms = (a: Float32Array, b: Float32Array) => {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
};

test("GPT-2 with BF16 block weights matches fp32 within 2e-2 relative RMS (hidden, dx)", (t) => {
  const weights = randomGpt2Weights(cfg, 3, 0.1);
  const fp32 = new Gpt2(cfg, weights, "cpu");
  const bf16 = new Gpt2(cfg, weights, "cpu", { dtype: "bf16" });
  if (!native().bf16Supported()) {
    assert.equal(bf16.weightDtype, "f32");
    assert.match(bf16.dtypeNote, /AVX512_BF16/);
    t.skip("no AVX512_BF16 on this CPU: checked the fp32 fallback only");
    fp32.dispose();
    bf16.dispose();
    return;
  }
  assert.equal(bf16.weightDtype, "bf16");
  const B = 2,
    T = 9;
  const x0 = randn(B * T * cfg.nEmbd, 0.5, lcg(4));
  const ref = run(fp32, x0, B, T);
  native().resetStats();
  const got = run(bf16, x0, B, T);
  const launches = native().stats().launches;
  // forward: 4 block GEMMs per layer; backward: their 4 input gradients; no fp32 GEMM for them
  assert.equal(launches.gemmBf16, 8 * cfg.nLayer);
  const eh = relRms(got.h, ref.h),
    ed = relRms(got.dx, ref.dx);
  assert.ok(eh < 2e-2, `hidden relative RMS ${eh}`);
  assert.ok(ed < 2e-2, `dx relative RMS ${ed}`);
  assert.ok(eh > 0, "BF16 rounding changes the result (the BF16 path ran)");
  fp32.dispose();
  bf16.dispose();
});

test("the content head of a BF16 model runs the BF16 fused kernel: loss within 1e-3, dh within 1e-2 relative RMS of fp32", (t) => {
  if (!native().bf16Supported()) {
    t.skip("no AVX512_BF16 on this CPU");
    return;
  }
  const weights = randomGpt2Weights(cfg, 3, 0.1);
  const fp32 = new Gpt2(cfg, weights, "cpu");
  const bf16 = new Gpt2(cfg, weights, "cpu", { dtype: "bf16" });
  assert.equal(fp32.wteHeadBf16, null);
  assert.ok(bf16.wteHeadBf16, "a BF16 CPU model packs wte for its content head");
  const n = 37;
  const h0 = randn(n * cfg.nEmbd, 1, lcg(8));
  const targets = Int32Array.from({ length: n }, (_, i) => (i % 7 === 3 ? -1 : (i * 13) % cfg.vocabSize));
  const head = (m: Gpt2) =>
    tidy(() => {
      const h = Tensor.from(h0, [n, cfg.nEmbd], { requiresGrad: true });
      const loss = linearCrossEntropy(h, m.wte, targets, { headBf16: m.wteHeadBf16 });
      const value = loss.item();
      backward(loss);
      const dh = h.grad!.toFloat32();
      h.dispose();
      return { value, dh };
    });
  const ref = head(fp32);
  native().resetStats();
  const got = head(bf16);
  assert.equal(native().stats().launches.linearXentBf16Forward, 1);
  assert.ok(Math.abs(got.value - ref.value) <= 1e-3 * Math.abs(ref.value), `loss ${got.value} vs ${ref.value}`);
  const e = relRms(got.dh, ref.dh);
  assert.ok(e < 1e-2 && e > 0, `dh relative RMS ${e}`);
  fp32.dispose();
  bf16.dispose();
});

test("bf16 falls back to fp32 with a reason for a trainable backbone", () => {
  const m = new Gpt2(cfg, randomGpt2Weights(cfg, 3, 0.1), "cpu", { dtype: "bf16", trainable: true });
  assert.equal(m.weightDtype, "f32");
  assert.match(m.dtypeNote, /trainable/);
  m.dispose();
});
