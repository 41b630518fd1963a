// multinomialNll through the tape against finite differences, multi-hot and count targets.
import { test } from "node:test";
import { multinomialNll } from "../../src/engine";
import { checkGradients } from "./fd";

test("multinomialNll: dlogits with multi-hot and count targets", () => {
  const t = [1, 0, 1, 0, 0, 0, 2, 0, 1, 1, 0, 0, 0, 0, 0, 3, 0, 0];
  checkGradients(
    "multinomialNll",
    [
      { name: "logits", shape: [3, 6] },
      { name: "t", shape: [3, 6], data: t, grad: false },
    ],
    ([x, tt]) => multinomialNll(x, tt),
  );
});
