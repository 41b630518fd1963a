// GPT-2 hyper-parameters from a Hugging Face config.json.

export interface Gpt2Config {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  layerNormEpsilon: number;
  /** Always the tanh approximation of GELU ("gelu_new" / "gelu_pytorch_tanh" in HF). */
  activation: "gelu_new";
}

const TANH_GELU = new Set(["gelu_new", "gelu_pytorch_tanh"]);

/** Validates a parsed config.json; every problem is an Error naming the source and the field. */
export function parseGpt2Config(json: unknown, source = "config.json"): Gpt2Config {
  const fail = (msg: string): never => {
    throw new Error(`parseGpt2Config(${source}): ${msg}`);
  };
  if (json === null || typeof json !== "object" || Array.isArray(json)) fail("not a JSON object");
  const c = json as Record<string, unknown>;
  if (c.model_type !== undefined && c.model_type !== "gpt2") fail(`model_type ${JSON.stringify(c.model_type)} is not "gpt2"`);
  const positiveInt = (key: string, value: unknown): number => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0)
      fail(`${key} must be a positive integer, got ${JSON.stringify(value)}`);
    return value as number;
  };
  const vocabSize = positiveInt("vocab_size", c.vocab_size);
  const nPositions = positiveInt(c.n_positions !== undefined ? "n_positions" : "n_ctx", c.n_positions ?? c.n_ctx);
  const nEmbd = positiveInt("n_embd", c.n_embd);
  const nLayer = positiveInt("n_layer", c.n_layer);
  // far beyond any GPT-2 (48 layers in gpt2-xl); a corrupt value would otherwise exhaust memory building tensor names
  if (nLayer > 1024) fail(`n_layer must be at most 1024, got ${nLayer}`);
  const nHead = positiveInt("n_head", c.n_head);
  if (nEmbd % nHead !== 0) fail(`n_embd ${nEmbd} is not divisible by n_head ${nHead}`);
  const eps = c.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps <= 0)
    fail(`layer_norm_epsilon must be a positive number, got ${JSON.stringify(eps)}`);
  const act = c.activation_function ?? "gelu_new";
  if (typeof act !== "string" || !TANH_GELU.has(act)) {
    fail(`activation_function ${JSON.stringify(act)} is not supported (only the tanh GELU: "gelu_new" or "gelu_pytorch_tanh")`);
  }
  // Variants that change the attention math are refused rather than silently ignored.
  if (c.scale_attn_weights === false) fail("scale_attn_weights=false is not supported");
  if (c.scale_attn_by_inverse_layer_idx === true) fail("scale_attn_by_inverse_layer_idx=true is not supported");
  if (c.add_cross_attention === true) fail("add_cross_attention=true is not supported");
  if (c.n_inner !== undefined && c.n_inner !== null && c.n_inner !== 4 * nEmbd)
    fail(`n_inner ${JSON.stringify(c.n_inner)} != 4 * n_embd is not supported`);
  return { vocabSize, nPositions, nEmbd, nLayer, nHead, layerNormEpsilon: eps as number, activation: "gelu_new" };
}

/** The config.json fields for a config (Hugging Face names). */
export function gpt2ConfigJson(config: Gpt2Config): Record<string, unknown> {
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: config.vocabSize,
    n_positions: config.nPositions,
    n_ctx: config.nPositions,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    layer_norm_epsilon: config.layerNormEpsilon,
    activation_function: config.activation,
  };
}

/** Every GPT-2 weight (names without the "transformer." prefix) and its shape; Conv1D weights are [in, out]. */
export function gpt2TensorShapes(config: Gpt2Config): Map<string, number[]> {
  const d = config.nEmbd;
  const shapes = new Map<string, number[]>([
    ["wte.weight", [config.vocabSize, d]],
    ["wpe.weight", [config.nPositions, d]],
  ]);
  for (let l = 0; l < config.nLayer; l++) {
    const p = `h.${l}.`;
    shapes.set(p + "ln_1.weight", [d]);
    shapes.set(p + "ln_1.bias", [d]);
    shapes.set(p + "attn.c_attn.weight", [d, 3 * d]);
    shapes.set(p + "attn.c_attn.bias", [3 * d]);
    shapes.set(p + "attn.c_proj.weight", [d, d]);
    shapes.set(p + "attn.c_proj.bias", [d]);
    shapes.set(p + "ln_2.weight", [d]);
    shapes.set(p + "ln_2.bias", [d]);
    shapes.set(p + "mlp.c_fc.weight", [d, 4 * d]);
    shapes.set(p + "mlp.c_fc.bias", [4 * d]);
    shapes.set(p + "mlp.c_proj.weight", [4 * d, d]);
    shapes.set(p + "mlp.c_proj.bias", [d]);
  }
  shapes.set("ln_f.weight", [d]);
  shapes.set("ln_f.bias", [d]);
  return shapes;
}
