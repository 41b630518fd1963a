// rowSum and mean through the tape against finite differences.
import { test } from "node:test";
import { rowSum, mean } from "../../src/engine";
import { checkGradients } from "./fd";

test("rowSum: dx is the broadcast of the row gradients", () => {
  checkGradients("rowSum", [{ name: "x", shape: [3, 5] }], ([x]) => rowSum(x));
});

test("mean: dx = g / n everywhere, on a 1-D and a 2-D tensor", () => {
  checkGradients("mean 2-D", [{ name: "x", shape: [2, 3] }], ([x]) => mean(x));
  checkGradients("mean 1-D", [{ name: "x", shape: [7] }], ([x]) => mean(x));
});
