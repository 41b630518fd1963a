// GPT-2 (Hugging Face GPT2Model semantics) on the engine: pre-LayerNorm blocks, tanh
// GELU, Conv1D weights [in, out], learned positions. The weights are frozen: they never
// require grad, so backward launches only the input-gradient kernels through them.
// Inputs are embeddings, so callers can mix the frozen vocabulary with trainable
// user/item tables (SPEC.md §2).
import { Tensor, keep, linear, layerNorm, gelu, attention, add, concatTime, selectRows } from "../engine";
import type { Device } from "../engine";

import type { Gpt2Config as FolderConfig } from "../io/gpt2-config";

/** The hyper-parameters the model needs (the activation is always tanh GELU). */
export type Gpt2Config = Omit<FolderConfig, "activation">;

export interface Gpt2Block {
  ln1g: Tensor; ln1b: Tensor;
  attnW: Tensor; attnB: Tensor;
  projW: Tensor; projB: Tensor;
  ln2g: Tensor; ln2b: Tensor;
  fcW: Tensor; fcB: Tensor;
  fcProjW: Tensor; fcProjB: Tensor;
}

export type WeightMap = Map<string, { shape: readonly number[]; data: Float32Array }>;

/** Keys/values of a prompt, one packed qkv tensor [B*Tp, 3d] per layer. */
export interface PromptCache {
  batch: number;
  tp: number;
  qkv: Tensor[];
}

export class Gpt2 {
  readonly blocks: Gpt2Block[] = [];
  readonly wte: Tensor;
  readonly wpe: Tensor;
  readonly lnfG: Tensor;
  readonly lnfB: Tensor;

  constructor(readonly config: Gpt2Config, weights: WeightMap, readonly device: Device) {
    const get = (name: string, shape: number[]): Tensor => {
      const w = weights.get(name);
      if (!w) throw new Error(`GPT-2: missing weight '${name}'`);
      if (w.shape.length !== shape.length || w.shape.some((s, i) => s !== shape[i]))
        throw new Error(`GPT-2: weight '${name}' has shape [${w.shape.join(", ")}], expected [${shape.join(", ")}]`);
      const t = keep(Tensor.from(w.data, shape, { device }));
      t.name = name;
      return t;
    };
    const { vocabSize: V, nPositions: P, nEmbd: d, nLayer: L } = config;
    if (d % config.nHead !== 0) throw new Error(`GPT-2: n_embd ${d} is not divisible by n_head ${config.nHead}`);
    this.wte = get("wte.weight", [V, d]);
    this.wpe = get("wpe.weight", [P, d]);
    for (let l = 0; l < L; l++) {
      const p = `h.${l}.`;
      this.blocks.push({
        ln1g: get(p + "ln_1.weight", [d]), ln1b: get(p + "ln_1.bias", [d]),
        attnW: get(p + "attn.c_attn.weight", [d, 3 * d]), attnB: get(p + "attn.c_attn.bias", [3 * d]),
        projW: get(p + "attn.c_proj.weight", [d, d]), projB: get(p + "attn.c_proj.bias", [d]),
        ln2g: get(p + "ln_2.weight", [d]), ln2b: get(p + "ln_2.bias", [d]),
        fcW: get(p + "mlp.c_fc.weight", [d, 4 * d]), fcB: get(p + "mlp.c_fc.bias", [4 * d]),
        fcProjW: get(p + "mlp.c_proj.weight", [4 * d, d]), fcProjB: get(p + "mlp.c_proj.bias", [d]),
      });
    }
    this.lnfG = get("ln_f.weight", [d]);
    this.lnfB = get("ln_f.bias", [d]);
  }

  /** Every weight tensor (all frozen). */
  parameters(): Tensor[] {
    const out = [this.wte, this.wpe, this.lnfG, this.lnfB];
    for (const b of this.blocks) out.push(...Object.values(b));
    return out;
  }

  /** Position embeddings wpe[pos] for host position ids [n] -> [n, d]. */
  positions(posHost: Int32Array): Tensor {
    for (let i = 0; i < posHost.length; i++)
      if (posHost[i] < 0 || posHost[i] >= this.config.nPositions)
        throw new RangeError(`GPT-2: position ${posHost[i]} at ${i} is outside [0, ${this.config.nPositions})`);
    const idx = Tensor.from(posHost, [posHost.length], { device: this.device });
    return selectRows(this.wpe, idx, posHost);
  }

  /**
   * Runs the blocks and ln_f over input embeddings x0 [B*T, d] (token + position).
   * keyMask: int32 [B*(Tp+T)] — prompt mask then this segment's mask per batch entry when
   * a prompt cache is given, else [B*T]. Returns the final hidden states [B*T, d] and
   * this segment's per-layer packed qkv (its cache, for a later segment to attend to).
   */
  forward(x0: Tensor, keyMask: Tensor, batch: number, t: number, prompt?: PromptCache): { hidden: Tensor; cache: PromptCache } {
    const { nHead: H, layerNormEpsilon: eps } = this.config;
    if (prompt && prompt.batch !== batch) throw new RangeError(`GPT-2: prompt cache batch ${prompt.batch} != ${batch}`);
    const tp = prompt ? prompt.tp : 0;
    const qkvs: Tensor[] = [];
    let x = x0;
    this.blocks.forEach((b, l) => {
      const qkv = linear(layerNorm(x, b.ln1g, b.ln1b, eps), b.attnW, b.attnB); // [B*T, 3d]
      qkvs.push(qkv);
      const kv = prompt ? concatTime(prompt.qkv[l], qkv, batch) : qkv; // [B*(Tp+T), 3d]
      const a = attention(qkv, kv, keyMask, { batch, heads: H, tq: t, tk: tp + t });
      x = add(x, linear(a, b.projW, b.projB));
      const f = gelu(linear(layerNorm(x, b.ln2g, b.ln2b, eps), b.fcW, b.fcB));
      x = add(x, linear(f, b.fcProjW, b.fcProjB));
    });
    const hidden = layerNorm(x, this.lnfG, this.lnfB, eps);
    return { hidden, cache: { batch, tp: t, qkv: qkvs } };
  }

  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}
