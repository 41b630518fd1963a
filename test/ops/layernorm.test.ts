// layerNorm through the tape against finite differences: dx, dgamma and dbeta (the
// weight gradients a trainable GPT-2 needs) and a frozen LayerNorm.
import { test } from "node:test";
import { layerNorm } from "../../src/engine";
import { checkGradients } from "./fd";

test("layerNorm: dx, dgamma and dbeta", () => {
  checkGradients(
    "layerNorm",
    [
      { name: "x", shape: [3, 5] },
      { name: "gamma", shape: [5] },
      { name: "beta", shape: [5] },
    ],
    ([x, g, b]) => layerNorm(x, g, b, 1e-5),
  );
});

test("layerNorm: frozen gamma and beta get no gradient, x still does", () => {
  checkGradients(
    "layerNorm frozen",
    [
      { name: "x", shape: [2, 4] },
      { name: "gamma", shape: [4], grad: false },
      { name: "beta", shape: [4], grad: false },
    ],
    ([x, g, b]) => layerNorm(x, g, b, 1e-5),
  );
});
