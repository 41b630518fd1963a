import { test } from "node:test";
import * as assert from "node:assert/strict";
import { gpt2TensorShapes, parseGpt2Config } from "../../src/io/gpt2_config";

const GPT2_SMALL = {
  vocab_size: 50257,
  n_positions: 1024,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  layer_norm_epsilon: 1e-5,
  activation_function: "gelu_new",
  model_type: "gpt2",
};

test("parses the GPT-2 small config.json fields", () => {
  assert.deepEqual(parseGpt2Config(GPT2_SMALL), {
    vocabSize: 50257,
    nPositions: 1024,
    nEmbd: 768,
    nLayer: 12,
    nHead: 12,
    layerNormEpsilon: 1e-5,
    activation: "gelu_new",
  });
  const { n_positions, ...old } = GPT2_SMALL;
  assert.equal(parseGpt2Config({ ...old, n_ctx: n_positions }).nPositions, 1024);
  assert.equal(parseGpt2Config({ ...GPT2_SMALL, activation_function: "gelu_pytorch_tanh" }).activation, "gelu_new");
  const shapes = gpt2TensorShapes(parseGpt2Config(GPT2_SMALL));
  assert.equal(shapes.size, 2 + 12 * 12 + 2);
  // GPT-2 small has 124,439,808 parameters (tied head).
  assert.equal(
    [...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0),
    124439808,
  );
});

test("rejects unsupported or inconsistent configs with the field named", () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...GPT2_SMALL, activation_function: "gelu" }, /activation_function "gelu" is not supported/],
    [{ ...GPT2_SMALL, activation_function: "relu" }, /activation_function "relu"/],
    [{ ...GPT2_SMALL, n_head: 5 }, /n_embd 768 is not divisible by n_head 5/],
    [{ ...GPT2_SMALL, n_layer: 0 }, /n_layer must be a positive integer, got 0/],
    [{ ...GPT2_SMALL, vocab_size: "50257" }, /vocab_size must be a positive integer, got "50257"/],
    [{ ...GPT2_SMALL, n_positions: undefined }, /n_ctx must be a positive integer/],
    [{ ...GPT2_SMALL, layer_norm_epsilon: -1 }, /layer_norm_epsilon must be a positive number/],
    [{ ...GPT2_SMALL, model_type: "gpt_neox" }, /model_type "gpt_neox" is not "gpt2"/],
    [{ ...GPT2_SMALL, scale_attn_by_inverse_layer_idx: true }, /scale_attn_by_inverse_layer_idx/],
    [{ ...GPT2_SMALL, n_inner: 1000 }, /n_inner 1000/],
  ];
  for (const [cfg, pattern] of bad)
    assert.throws(
      () => parseGpt2Config(cfg, "x/config.json"),
      (e: unknown) => e instanceof Error && /parseGpt2Config\(x\/config\.json\)/.test(e.message) && pattern.test(e.message),
    );
  assert.throws(() => parseGpt2Config([1]), /not a JSON object/);
});
