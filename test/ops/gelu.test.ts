// gelu through the tape against finite differences.
import { test } from "node:test";
import { gelu } from "../../src/engine";
import { checkGradients } from "./fd";

test("gelu: dx", () => {
  checkGradients("gelu", [{ name: "x", shape: [3, 7], data: Array.from({ length: 21 }, (_, i) => -4 + i * 0.4) }], ([x]) => gelu(x));
});
