// attention through the tape against finite differences: self-attention (q and kv one
// tensor) with a key-padding mask, a key prefix (kv longer than q), and each of q or kv
// frozen, which sends the kernel's unneeded part to scratch; dropout on the probabilities.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, attention } from "../../src/engine";
import { checkGradients } from "./fd";

const d = 4,
  heads = 2;

test("attention: self-attention with a key-padding mask, gradient into the packed qkv", () => {
  const mask = Tensor.from([1, 1, 1, 1, 1, 0], [6], { dtype: "i32" });
  checkGradients("attention self", [{ name: "qkv", shape: [6, 3 * d] }], ([x]) => attention(x, x, mask, { batch: 2, heads, tq: 3, tk: 3 }));
  mask.dispose();
});

test("attention: a key prefix (tk > tq): dq and dkv, and either side frozen", () => {
  const s = { batch: 2, heads, tq: 2, tk: 3 };
  checkGradients(
    "attention prefix",
    [
      { name: "q", shape: [4, 3 * d] },
      { name: "kv", shape: [6, 3 * d] },
    ],
    ([q, kv]) => attention(q, kv, null, s),
  );
  checkGradients(
    "attention frozen kv",
    [
      { name: "q", shape: [4, 3 * d] },
      { name: "kv", shape: [6, 3 * d], grad: false },
    ],
    ([q, kv]) => attention(q, kv, null, s),
  );
  checkGradients(
    "attention frozen q",
    [
      { name: "q", shape: [4, 3 * d], grad: false },
      { name: "kv", shape: [6, 3 * d] },
    ],
    ([q, kv]) => attention(q, kv, null, s),
  );
});

test("attention: dropout on the probabilities, gradients through the regenerated mask", () => {
  const drop = { p: 0.4, seed: 5, site: 3, step: 8 };
  const mask = Tensor.from([1, 1, 1, 1, 1, 0], [6], { dtype: "i32" });
  checkGradients("attention self, dropout", [{ name: "qkv", shape: [6, 3 * d] }], ([x]) =>
    attention(x, x, mask, { batch: 2, heads, tq: 3, tk: 3 }, drop),
  );
  mask.dispose();
  const s = { batch: 2, heads, tq: 2, tk: 3 };
  checkGradients(
    "attention prefix, dropout",
    [
      { name: "q", shape: [4, 3 * d] },
      { name: "kv", shape: [6, 3 * d] },
    ],
    ([q, kv]) => attention(q, kv, null, s, drop),
  );
});

test("attention: p = 0 gives the result without dropout bit for bit; a bad rate is named", () => {
  const x = Tensor.from(
    Array.from({ length: 6 * 3 * d }, (_, i) => Math.cos(i)),
    [6, 3 * d],
  );
  const s = { batch: 2, heads, tq: 3, tk: 3 };
  const plain = attention(x, x, null, s).toFloat32();
  assert.deepEqual(attention(x, x, null, s, { p: 0, seed: 1, site: 2, step: 3 }).toFloat32(), plain);
  assert.notDeepEqual(attention(x, x, null, s, { p: 0.5, seed: 1, site: 2, step: 3 }).toFloat32(), plain);
  assert.throws(() => attention(x, x, null, s, { p: 1, seed: 1, site: 2, step: 3 }), /attention: dropout p must be in \[0, 1\), got 1/);
  x.dispose();
});
