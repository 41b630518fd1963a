// concatTime through the tape against finite differences: both halves' gradients, and a
// frozen half that gets none.
import { test } from "node:test";
import { concatTime } from "../../src/engine";
import { checkGradients } from "./fd";

test("concatTime: da and db are the matching row blocks of the output gradient", () => {
  // batch 2: a [2*2, 3] rows then b [2*3, 3] rows per batch entry
  checkGradients(
    "concatTime",
    [
      { name: "a", shape: [4, 3] },
      { name: "b", shape: [6, 3] },
    ],
    ([a, b]) => concatTime(a, b, 2),
  );
  checkGradients(
    "concatTime frozen a",
    [
      { name: "a", shape: [4, 3], grad: false },
      { name: "b", shape: [6, 3] },
    ],
    ([a, b]) => concatTime(a, b, 2),
  );
});
