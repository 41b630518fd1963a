// squaredDistance through the tape against finite differences: da (b is a constant).
import { test } from "node:test";
import { squaredDistance } from "../../src/engine";
import { checkGradients } from "./fd";

test("squaredDistance: da = 2 g (a - b)", () => {
  checkGradients(
    "squaredDistance",
    [
      { name: "a", shape: [3, 4] },
      { name: "b", shape: [3, 4], grad: false },
    ],
    ([a, b]) => squaredDistance(a, b),
  );
});
