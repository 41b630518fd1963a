// GPT-2 (Hugging Face GPT2Model semantics) on the engine: pre-LayerNorm blocks, tanh
// GELU, Conv1D weights [in, out], learned positions. By default the weights are frozen:
// they never require grad, so backward launches only the input-gradient kernels through
// them. With { trainable: true } every weight is a leaf that requires grad (pretraining,
// LLM-Scratch, LLM-FtAll). Inputs are embeddings, so callers can mix the vocabulary with
// trainable user/item tables (SPEC.md §2).
import {
  Tensor,
  keep,
  linear,
  linearGelu,
  layerNorm,
  attention,
  add,
  concatTime,
  selectRows,
  packBf16,
  toBf16,
  packHeadBf16,
  native,
  dropout,
} from "../engine";
import type { AttentionPrecision, Bf16Weight, HeadBf16 } from "../engine";
import type { Device } from "../engine";

import type { Gpt2Config as FolderConfig } from "../io/gpt2_config";

/** The hyper-parameters the model needs (the activation is always tanh GELU). */
export type Gpt2Config = Omit<FolderConfig, "activation">;

export interface Gpt2Block {
  ln1g: Tensor;
  ln1b: Tensor;
  attnW: Tensor;
  attnB: Tensor;
  projW: Tensor;
  projB: Tensor;
  ln2g: Tensor;
  ln2b: Tensor;
  fcW: Tensor;
  fcB: Tensor;
  fcProjW: Tensor;
  fcProjB: Tensor;
}

export type WeightMap = Map<string, { shape: readonly number[]; data: Float32Array }>;

export interface Gpt2Options {
  /** every weight requires grad (default false: frozen, no weight-gradient kernel ever runs) */
  trainable?: boolean;
  /**
   * Weight precision of the block GEMMs: "bf16" stores the frozen block weights in BF16 once
   * (fp32 accumulation): on CUDA (tensor cores; wte too, for the content head) and on a CPU
   * with AVX512_BF16; elsewhere it falls back to fp32 and says why in `dtypeNote`. The
   * embeddings, LayerNorm, attention, the trainable user/item tables, their gradients and
   * Adam state stay fp32. The requested dtype also picks CUDA attention: "f32" the FP32
   * kernel (v1), "bf16" flash attention on BF16 operands (v2, head dims 64 and 128), unset
   * the addon's default (v2); CLLM4REC_ATTENTION_VERSION overrides it.
   */
  dtype?: "f32" | "bf16";
}

interface PackedBlock {
  attn: Bf16Weight;
  proj: Bf16Weight;
  fc: Bf16Weight;
  fcProj: Bf16Weight;
}

/**
 * Training-mode dropout, in the three places Hugging Face's GPT-2 applies it: the embedding
 * sum, the attention probabilities (inside the attention kernel) and each residual branch
 * (attention output, MLP output). `site` names the forward call and `step` the optimizer
 * step: together with the seed they fix every mask (counter-based, regenerated in backward).
 */
export interface Gpt2Dropout {
  p: number;
  seed: number;
  site: number;
  step: number;
}

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

  private readonly named: [string, Tensor][] = [];
  readonly trainable: boolean;
  /** the weight precision in use ("bf16" only when requested and supported) */
  readonly weightDtype: "f32" | "bf16";
  /** the requested dtype, which picks the CUDA attention kernel (undefined: the addon's default) */
  readonly attentionPrecision: AttentionPrecision | undefined;
  /** why a requested bf16 fell back to fp32 ("" otherwise) */
  readonly dtypeNote: string = "";
  private readonly packed: PackedBlock[] = [];
  /** wte [V, d] in BF16 for the content head on CUDA with bf16 weights, else null */
  readonly wteBf16: Tensor | null = null;
  /** wte packed for the CPU's BF16 fused content head with bf16 weights, else null */
  readonly wteHeadBf16: HeadBf16 | null = null;

  constructor(
    readonly config: Gpt2Config,
    weights: WeightMap,
    readonly device: Device,
    opts: Gpt2Options = {},
  ) {
    this.trainable = !!opts.trainable;
    this.attentionPrecision = opts.dtype;
    const get = (name: string, shape: number[]): Tensor => {
      const w = weights.get(name);
      if (!w) throw new Error(`GPT-2: missing weight '${name}'`);
      if (w.shape.length !== shape.length || w.shape.some((s, i) => s !== shape[i]))
        throw new Error(`GPT-2: weight '${name}' has shape [${w.shape.join(", ")}], expected [${shape.join(", ")}]`);
      const t = keep(Tensor.from(w.data, shape, { device, requiresGrad: this.trainable }));
      t.name = name;
      this.named.push([name, t]);
      return t;
    };
    const { vocabSize: V, nPositions: P, nEmbd: d, nLayer: L } = config;
    if (d % config.nHead !== 0) throw new Error(`GPT-2: n_embd ${d} is not divisible by n_head ${config.nHead}`);
    this.wte = get("wte.weight", [V, d]);
    this.wpe = get("wpe.weight", [P, d]);
    for (let l = 0; l < L; l++) {
      const p = `h.${l}.`;
      this.blocks.push({
        ln1g: get(p + "ln_1.weight", [d]),
        ln1b: get(p + "ln_1.bias", [d]),
        attnW: get(p + "attn.c_attn.weight", [d, 3 * d]),
        attnB: get(p + "attn.c_attn.bias", [3 * d]),
        projW: get(p + "attn.c_proj.weight", [d, d]),
        projB: get(p + "attn.c_proj.bias", [d]),
        ln2g: get(p + "ln_2.weight", [d]),
        ln2b: get(p + "ln_2.bias", [d]),
        fcW: get(p + "mlp.c_fc.weight", [d, 4 * d]),
        fcB: get(p + "mlp.c_fc.bias", [4 * d]),
        fcProjW: get(p + "mlp.c_proj.weight", [4 * d, d]),
        fcProjB: get(p + "mlp.c_proj.bias", [d]),
      });
    }
    this.lnfG = get("ln_f.weight", [d]);
    this.lnfB = get("ln_f.bias", [d]);
    let dtype: "f32" | "bf16" = "f32";
    if (opts.dtype === "bf16") {
      if (this.trainable) this.dtypeNote = "bf16 packs frozen weights; a trainable backbone stays fp32";
      else if (device === "cpu" && !native().bf16Supported())
        this.dtypeNote = "this CPU has no AVX512_BF16 (or CLLM4REC_CPU_ISA caps it): fp32 weights";
      else dtype = "bf16";
    }
    this.weightDtype = dtype;
    if (dtype === "bf16")
      for (const b of this.blocks)
        this.packed.push({
          attn: keepPacked(packBf16(b.attnW)),
          proj: keepPacked(packBf16(b.projW)),
          fc: keepPacked(packBf16(b.fcW)),
          fcProj: keepPacked(packBf16(b.fcProjW)),
        });
    // the content head reads wte in BF16 too: on CUDA in its GEMMs, on the CPU in its fused kernel
    if (dtype === "bf16" && device === "cuda") this.wteBf16 = keep(toBf16(this.wte));
    if (dtype === "bf16" && device === "cpu") {
      const head = packHeadBf16(this.wte);
      keep(head.logits);
      keep(head.grad);
      this.wteHeadBf16 = head;
    }
  }

  /** Every weight tensor (frozen unless the model was made trainable). */
  parameters(): Tensor[] {
    return this.named.map(([, t]) => t);
  }

  /** [Hugging Face name without "transformer.", tensor] for every weight, in file order. */
  namedParameters(): readonly [string, Tensor][] {
    return this.named;
  }

  /** Host copies of every weight under its Hugging Face name (for safetensors). */
  weightMap(): Map<string, { shape: number[]; data: Float32Array }> {
    return new Map(this.named.map(([n, t]) => [n, { shape: [...t.shape], data: t.toFloat32() }]));
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
  forward(
    x0: Tensor,
    keyMask: Tensor,
    batch: number,
    t: number,
    prompt?: PromptCache,
    drop?: Gpt2Dropout,
  ): { hidden: Tensor; cache: PromptCache } {
    const { nHead: H, layerNormEpsilon: eps } = this.config;
    if (prompt && prompt.batch !== batch) throw new RangeError(`GPT-2: prompt cache batch ${prompt.batch} != ${batch}`);
    const tp = prompt ? prompt.tp : 0;
    const qkvs: Tensor[] = [];
    // mask k of this call: sites (site, k) are disjoint counter ranges of one stream; k = 0 the
    // embedding sum, 1 + 2l and 2 + 2l layer l's residual branches, 1 + 2L + l its probabilities
    const on = !!drop && drop.p > 0,
      L = this.blocks.length;
    const at = (k: number) => ({ p: drop!.p, seed: drop!.seed, site: drop!.site * 256 + k, step: drop!.step });
    const dr = (y: Tensor, k: number) => (on ? dropout(y, drop!.p, at(k)) : y);
    if (on && 3 * L + 1 > 256) throw new RangeError(`GPT-2: dropout supports at most 85 layers, this model has ${L}`);
    let x = dr(x0, 0);
    this.blocks.forEach((b, l) => {
      const p = this.packed[l] ?? null; // BF16 panels of the frozen weights, or fp32
      const qkv = linear(layerNorm(x, b.ln1g, b.ln1b, eps), b.attnW, b.attnB, p?.attn); // [B*T, 3d]
      qkvs.push(qkv);
      const kv = prompt ? concatTime(prompt.qkv[l], qkv, batch) : qkv; // [B*(Tp+T), 3d]
      const a = attention(
        qkv,
        kv,
        keyMask,
        { batch, heads: H, tq: t, tk: tp + t },
        on ? at(1 + 2 * L + l) : undefined,
        this.attentionPrecision,
      );
      x = add(x, dr(linear(a, b.projW, b.projB, p?.proj), 1 + 2 * l));
      const f = linearGelu(layerNorm(x, b.ln2g, b.ln2b, eps), b.fcW, b.fcB, p?.fc); // one GEMM, GELU in its epilogue
      x = add(x, dr(linear(f, b.fcProjW, b.fcProjB, p?.fcProj), 2 + 2 * l));
    });
    const hidden = layerNorm(x, this.lnfG, this.lnfB, eps);
    return { hidden, cache: { batch, tp: t, qkv: qkvs } };
  }

  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const pb of this.packed)
      for (const w of Object.values(pb)) {
        w.fwd.dispose();
        w.bwd?.dispose();
      }
    this.wteBf16?.dispose();
    this.wteHeadBf16?.logits.dispose();
    this.wteHeadBf16?.grad.dispose();
  }
}

function keepPacked(w: Bf16Weight): Bf16Weight {
  keep(w.fwd);
  if (w.bwd) keep(w.bwd);
  return w;
}
