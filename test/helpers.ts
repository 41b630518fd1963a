// Small deterministic helpers for tests.
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export function randn(n: number, std: number, rnd: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rnd(), 1e-9),
      v = rnd();
    out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/** A GPT-2 weight map with random weights (names without the transformer. prefix). */
export function randomGpt2Weights(cfg: { vocabSize: number; nPositions: number; nEmbd: number; nLayer: number }, seed: number, std = 0.2) {
  const rnd = lcg(seed);
  const { vocabSize: V, nPositions: P, nEmbd: d, nLayer: L } = cfg;
  const w = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (name: string, shape: number[], s = std, mean = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = randn(n, s, rnd).map((x) => x + mean);
    w.set(name, { shape, data });
  };
  put("wte.weight", [V, d]);
  put("wpe.weight", [P, d]);
  for (let l = 0; l < L; l++) {
    const p = `h.${l}.`;
    put(p + "ln_1.weight", [d], 0.1, 1);
    put(p + "ln_1.bias", [d], 0.1);
    put(p + "attn.c_attn.weight", [d, 3 * d]);
    put(p + "attn.c_attn.bias", [3 * d], 0.1);
    put(p + "attn.c_proj.weight", [d, d]);
    put(p + "attn.c_proj.bias", [d], 0.1);
    put(p + "ln_2.weight", [d], 0.1, 1);
    put(p + "ln_2.bias", [d], 0.1);
    put(p + "mlp.c_fc.weight", [d, 4 * d]);
    put(p + "mlp.c_fc.bias", [4 * d], 0.1);
    put(p + "mlp.c_proj.weight", [4 * d, d]);
    put(p + "mlp.c_proj.bias", [d], 0.1);
  }
  put("ln_f.weight", [d], 0.1, 1);
  put("ln_f.bias", [d], 0.1);
  return w;
}
