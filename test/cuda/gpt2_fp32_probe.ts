// An fp32 GPT-2 (head dim 64, where flash attention v2 would run) on CUDA against the same
// model on the CPU: the worst |cuda - cpu| / (atol + rtol·|cpu|) over the hidden states and
// the input gradient (<= 1 passes the FP32 tolerance). Run as a script it prints that ratio,
// so a test can measure it under another CLLM4REC_ATTENTION_VERSION (read when the addon loads).
import { Tensor, tidy, backward, mean, mul, type Device } from "../../src/engine";
import { Gpt2 } from "../../src/nn/gpt2";
import { randomGpt2Weights, lcg, randn } from "../helpers";
import { TOL_REDUCTION } from "./twin";

const cfg = { vocabSize: 40, nPositions: 48, nEmbd: 128, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };
const B = 2,
  T = 40;

function run(device: Device, dtype: "f32" | "bf16"): { h: Float32Array; dx: Float32Array } {
  const model = new Gpt2(cfg, randomGpt2Weights(cfg, 11, 0.2), device, { dtype });
  try {
    return tidy(() => {
      const x = Tensor.from(randn(B * T * cfg.nEmbd, 0.5, lcg(12)), [B * T, cfg.nEmbd], { device, requiresGrad: true });
      const maskHost = new Int32Array(B * T).fill(1);
      maskHost.fill(0, B * T - 7); // the second row's last 7 keys are padding
      const mask = Tensor.from(maskHost, [B * T], { device, dtype: "i32" });
      const { hidden } = model.forward(x, mask, B, T);
      // loss = mean(hidden * w), w scaled by the element count so dx is O(1), not O(1/n)
      const w = Tensor.from(randn(B * T * cfg.nEmbd, B * T * cfg.nEmbd, lcg(13)), [B * T, cfg.nEmbd], { device });
      backward(mean(mul(hidden, w)));
      const out = { h: hidden.toFloat32(), dx: x.grad!.toFloat32() };
      x.dispose();
      return out;
    });
  } finally {
    model.dispose();
  }
}

/** Worst error of the CUDA model (with `dtype`) against the fp32 CPU model, in units of the FP32 tolerance. */
export function cudaVsCpuExcess(dtype: "f32" | "bf16" = "f32"): { hidden: number; dx: number } {
  const ref = run("cpu", "f32"),
    got = run("cuda", dtype);
  const worst = (a: Float32Array, b: Float32Array) => {
    let r = 0;
    for (let i = 0; i < a.length; i++) r = Math.max(r, Math.abs(a[i] - b[i]) / (TOL_REDUCTION + TOL_REDUCTION * Math.abs(b[i])));
    return Number.isNaN(r) ? Infinity : r;
  };
  return { hidden: worst(got.h, ref.h), dx: worst(got.dx, ref.dx) };
}

if (require.main === module) console.log(JSON.stringify(cudaVsCpuExcess()));
