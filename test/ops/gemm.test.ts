// matmul and linear through the tape against finite differences: both gradients of every
// transpose combination (dA and dB, weight gradients included), linear's dx, dW and db,
// and a frozen operand that gets no gradient.
import { test } from "node:test";
import { matmul, linear } from "../../src/engine";
import { checkGradients } from "./fd";

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
