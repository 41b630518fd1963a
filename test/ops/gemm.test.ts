// matmul and linear through the tape against finite differences: both gradients of every
// transpose combination (dA and dB, weight gradients included), linear's dx, dW and db,
// and a frozen operand that gets no gradient; linearGelu (one GEMM with a GELU epilogue)
// against finite differences and bit for bit against gelu(linear).
import { test } from "node:test";
import assert from "node:assert/strict";
import { matmul, linear, linearGelu, gelu, packBf16, Tensor, tidy, backward, mean, mul, native } from "../../src/engine";
import { checkGradients } from "./fd";
import { rng, uniform } from "../native/helpers";

test("matmul: dA and dB for every transpose combination", () => {
  const M = 3,
    K = 4,
    N = 2;
  for (const transA of [false, true])
    for (const transB of [false, true])
      checkGradients(
        `matmul transA=${transA} transB=${transB}`,
        [
          { name: "A", shape: transA ? [K, M] : [M, K] },
          { name: "B", shape: transB ? [N, K] : [K, N] },
        ],
        ([a, b]) => matmul(a, b, { transA, transB }),
      );
});

test("matmul: a frozen operand gets no gradient, the other still does", () => {
  checkGradients(
    "matmul frozen B",
    [
      { name: "A", shape: [3, 4] },
      { name: "B", shape: [2, 4], grad: false },
    ],
    ([a, b]) => matmul(a, b, { transB: true }),
  );
  checkGradients(
    "matmul frozen A",
    [
      { name: "A", shape: [3, 4], grad: false },
      { name: "B", shape: [4, 2] },
    ],
    ([a, b]) => matmul(a, b),
  );
});

test("linear: dx, dW (Conv1D layout) and db, with and without a bias", () => {
  checkGradients(
    "linear with bias",
    [
      { name: "x", shape: [3, 4] },
      { name: "W", shape: [4, 5] },
      { name: "b", shape: [5] },
    ],
    ([x, w, b]) => linear(x, w, b),
  );
  checkGradients(
    "linear without bias",
    [
      { name: "x", shape: [2, 3] },
      { name: "W", shape: [3, 2] },
    ],
    ([x, w]) => linear(x, w, null),
  );
  checkGradients(
    "linear frozen weights",
    [
      { name: "x", shape: [2, 3] },
      { name: "W", shape: [3, 2], grad: false },
      { name: "b", shape: [2], grad: false },
    ],
    ([x, w, b]) => linear(x, w, b),
  );
});

test("linearGelu: dx, dW and db against finite differences", () => {
  checkGradients(
    "linearGelu",
    [
      { name: "x", shape: [3, 4] },
      { name: "W", shape: [4, 5] },
      { name: "b", shape: [5] },
    ],
    ([x, w, b]) => linearGelu(x, w, b),
  );
});

test("linearGelu: values and every gradient bit for bit those of gelu(linear), fp32 and BF16-packed weights", () => {
  const M = 9,
    K = 24,
    N = 40;
  const rand = rng(77);
  const xv = uniform(rand, M * K, -2, 2),
    wv = uniform(rand, K * N, -0.5, 0.5),
    bv = uniform(rand, N),
    gv = uniform(rand, M * N);
  const run = (fused: boolean, bf16: boolean) =>
    tidy(() => {
      const x = Tensor.from(xv, [M, K], { requiresGrad: true });
      const w = Tensor.from(wv, [K, N], { requiresGrad: !bf16 });
      const b = Tensor.from(bv, [N], { requiresGrad: true });
      const packed = bf16 ? packBf16(w) : null;
      const y = fused ? linearGelu(x, w, b, packed) : gelu(linear(x, w, b, packed));
      backward(mean(mul(y, Tensor.from(gv, [M, N]))));
      const r = [y, x.grad!, b.grad!, ...(bf16 ? [] : [w.grad!])].map((t) => t.toFloat32());
      if (packed) for (const p of [packed.fwd, packed.bwd]) p?.dispose();
      return r;
    });
  for (const bf16 of native().bf16Supported() ? [false, true] : [false]) {
    const want = run(false, bf16),
      got = run(true, bf16);
    got.forEach((g, k) => {
      for (let i = 0; i < g.length; i++)
        if (!Object.is(g[i], want[k][i])) assert.fail(`bf16=${bf16} ${["y", "dx", "db", "dW"][k]}[${i}]: ${g[i]} vs ${want[k][i]}`);
    });
  }
});
