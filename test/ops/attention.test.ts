// attention through the tape against finite differences: self-attention (q and kv one
// tensor) with a key-padding mask, a key prefix (kv longer than q), and each of q or kv
// frozen, which sends the kernel's unneeded part to scratch.
import { test } from "node:test";
import { Tensor, attention } from "../../src/engine";
import { checkGradients } from "./fd";

const d = 4, heads = 2;

test("attention: self-attention with a key-padding mask, gradient into the packed qkv", () => {
  const mask = Tensor.from([1, 1, 1, 1, 1, 0], [6], { dtype: "i32" });
  checkGradients("attention self", [{ name: "qkv", shape: [6, 3 * d] }],
    ([x]) => attention(x, x, mask, { batch: 2, heads, tq: 3, tk: 3 }));
  mask.dispose();
});

test("attention: a key prefix (tk > tq): dq and dkv, and either side frozen", () => {
  const s = { batch: 2, heads, tq: 2, tk: 3 };
  checkGradients("attention prefix", [{ name: "q", shape: [4, 3 * d] }, { name: "kv", shape: [6, 3 * d] }],
    ([q, kv]) => attention(q, kv, null, s));
  checkGradients("attention frozen kv", [{ name: "q", shape: [4, 3 * d] }, { name: "kv", shape: [6, 3 * d], grad: false }],
    ([q, kv]) => attention(q, kv, null, s));
  checkGradients("attention frozen q", [{ name: "q", shape: [4, 3 * d], grad: false }, { name: "kv", shape: [6, 3 * d] }],
    ([q, kv]) => attention(q, kv, null, s));
});
