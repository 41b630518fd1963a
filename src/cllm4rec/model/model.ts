// The CLLM4Rec model (SPEC.md §2, §4–§6): a frozen GPT-2 whose vocabulary is extended
// with I user and J item tokens, each with a collaborative (z^l) and a content (z^c)
// embedding. Only those four tables train.
//   collaborative LM: inputs use z^l, head tied to the item table z^l_v, softmax over J
//   content LM:       inputs use z^c, head tied to the frozen wte, softmax over the vocab
//   RecLLM:           inputs use z^l (the rec embeddings), multinomial head on the last
//                     prompt position, tied to z^l_v
import {
  Tensor,
  keep,
  add,
  matmul,
  embedTokens,
  selectRows,
  linearCrossEntropy,
  linearMultinomialNll,
  multiHotTargets,
  squaredDistance,
  combineLosses,
  noGrad,
  native,
} from "../../engine";
import type { Device, TablePart } from "../../engine";
import type { Gpt2, Gpt2Dropout } from "../../nn/gpt2";
import { layoutPromptMain, layoutPromptOnly, type PromptMainBatch } from "./batch_layout";
import type { RegScale } from "../train/config";

export type Side = "collab" | "content";

export interface EmbeddingTables {
  user: Tensor; // [I, d]
  item: Tensor; // [J, d]
}

export interface ModelSizes {
  numUsers: number;
  numItems: number;
}

/** A prompt-only batch: RecLLM samples and evaluation prompts. */
export interface PromptBatch {
  size: number;
  promptLen: number;
  promptIds: Int32Array;
  promptMask: Int32Array;
  promptLengths: ArrayLike<number>;
}

/** Floats drawn per block at init (even: Box–Muller pairs stay whole), so no table-sized host array exists. */
const INIT_BLOCK = 1 << 20;

/** out[i] += N(0, std^2) Box–Muller samples from a uniform source in [0, 1), each rounded to f32 first. */
function addNormals(out: Float32Array, std: number, uniform: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = Math.max(uniform(), 1e-12),
      u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] += Math.fround(r * Math.cos(2 * Math.PI * u2));
    if (i + 1 < out.length) out[i + 1] += Math.fround(r * Math.sin(2 * Math.PI * u2));
  }
}

export class Cllm4RecModel {
  readonly N: number; // base vocabulary size
  readonly I: number;
  readonly J: number;
  readonly d: number;
  readonly device: Device;
  readonly collab: EmbeddingTables;
  readonly content: EmbeddingTables;

  /**
   * z^l ~ N(0, 0.02^2); z^c starts near z^l (z^l plus N(0, (0.1*0.02)^2) noise), as
   * SPEC.md §2 describes. `uniform` is the run's seeded generator.
   */
  constructor(
    readonly backbone: Gpt2,
    sizes: ModelSizes,
    uniform: () => number,
  ) {
    this.N = backbone.config.vocabSize;
    this.I = sizes.numUsers;
    this.J = sizes.numItems;
    this.d = backbone.config.nEmbd;
    this.device = backbone.device;
    if (this.I < 1 || this.J < 1)
      throw new RangeError(`CLLM4Rec: need at least one user and one item (got ${this.I} users, ${this.J} items)`);
    const nat = native();
    // rows x d of base + N(0, std^2) (base null: 0), drawn block by block in element order
    const table = (rows: number, std: number, base: Tensor | null, name: string): Tensor => {
      const t = keep(Tensor.zeros([rows, this.d], { device: this.device }));
      const n = rows * this.d;
      for (let off = 0; off < n; off += INIT_BLOCK) {
        const len = Math.min(INIT_BLOCK, n - off);
        let block: Float32Array = new Float32Array(len);
        if (base) {
          const part = Tensor.zeros([len], { device: this.device });
          nat.copy(part.buffer, 0, base.buffer, off, len);
          block = part.toFloat32();
          part.dispose();
        }
        addNormals(block, std, uniform);
        const src = Tensor.from(block, [len], { device: this.device });
        nat.copy(t.buffer, off, src.buffer, 0, len);
        src.dispose();
      }
      t.requiresGrad = true;
      t.name = name;
      return t;
    };
    this.collab = { user: table(this.I, 0.02, null, "collab.user"), item: table(this.J, 0.02, null, "collab.item") };
    this.content = {
      user: table(this.I, 0.002, this.collab.user, "content.user"),
      item: table(this.J, 0.002, this.collab.item, "content.item"),
    };
  }

  tables(side: Side): EmbeddingTables {
    return side === "collab" ? this.collab : this.content;
  }

  /** All trainable tensors, in a fixed order (checkpoints rely on it). */
  parameters(): Tensor[] {
    // a trainable backbone (llm-scratch, llm-ftall) follows the four tables
    return [
      this.collab.user,
      this.collab.item,
      this.content.user,
      this.content.item,
      ...(this.backbone.trainable ? this.backbone.parameters() : []),
    ];
  }

  private parts(side: Side): TablePart[] {
    const t = this.tables(side);
    return [
      { table: this.backbone.wte, base: 0 },
      { table: t.user, base: this.N },
      { table: t.item, base: this.N + this.I },
    ];
  }

  /** Input embeddings: token (frozen vocab or the side's user/item rows) + position. */
  private embed(side: Side, ids: Int32Array, positions: Int32Array): Tensor {
    const idT = Tensor.from(ids, [ids.length], { device: this.device });
    return add(embedTokens(ids, idT, this.parts(side)), this.backbone.positions(positions));
  }

  private maskTensor(mask: Int32Array): Tensor {
    return Tensor.from(mask, [mask.length], { device: this.device });
  }

  /**
   * sum over the batch's user/item token occurrences of ||z^side - sg(z^other)||^2: the
   * mutual regulariser (SPEC.md §5), as the authors' MSELoss(sum) ("sum") or divided by
   * the batch size ("mean"). The caller multiplies it by lambda.
   */
  regularizer(side: Side, tokenIds: Int32Array, batch: number, scale: RegScale = "mean"): Tensor | null {
    const occ = tokenIds.filter((id) => id >= this.N);
    if (occ.length === 0) return null;
    const other: Side = side === "collab" ? "content" : "collab";
    const idT = Tensor.from(occ, [occ.length], { device: this.device });
    const mine = embedTokens(occ, idT, this.parts(side).slice(1));
    const target = noGrad(() => embedTokens(occ, idT, this.parts(other).slice(1)));
    return combineLosses([[squaredDistance(mine, target), scale === "mean" ? 1 / batch : 1]]);
  }

  /**
   * L-step (side collab) or C-step (side content) loss for a batch of documents:
   * mean cross-entropy of the main tokens given the prompt, plus lambda times the
   * regulariser over prompt+main (L-step) or prompt (C-step) user/item tokens.
   */
  documentLoss(
    side: Side,
    b: PromptMainBatch,
    lambda: number,
    scale: RegScale = "mean",
    drop?: Gpt2Dropout,
  ): { loss: Tensor; ce: Tensor; tokens: number } {
    const lay = layoutPromptMain(b);
    const x0 = this.embed(side, lay.ids, lay.positions);
    const { hidden } = this.backbone.forward(x0, this.maskTensor(lay.mask), lay.batch, lay.t, undefined, drop);
    const rows = Tensor.from(lay.predictRows, [lay.predictRows.length], { device: this.device });
    const h = selectRows(hidden, rows, lay.predictRows); // [n, d]
    const itemBase = this.N + this.I;
    const targets = new Int32Array(lay.predictIds.length);
    let counted = 0;
    for (let k = 0; k < targets.length; k++) {
      const id = lay.predictIds[k];
      // the collaborative head scores items only, the content head words only
      const t = side === "collab" ? (id >= itemBase ? id - itemBase : -1) : id < this.N ? id : -1;
      targets[k] = t;
      if (t >= 0) counted++;
    }
    // the collaborative head is tied to the item table, the content head to the frozen wte;
    // fused with the cross-entropy so the [n, vocab] logits never exist all at once
    const ce =
      side === "collab"
        ? linearCrossEntropy(h, this.collab.item, targets)
        : linearCrossEntropy(h, this.backbone.wte, targets, { wBf16: this.backbone.wteBf16, headBf16: this.backbone.wteHeadBf16 });
    let regIds: Int32Array;
    if (side === "collab") regIds = lay.ids.filter((_, i) => lay.mask[i] !== 0);
    else regIds = b.promptIds.filter((_, i) => b.promptMask[i] !== 0);
    const reg = lambda > 0 ? this.regularizer(side, regIds, b.size, scale) : null;
    const loss = reg
      ? combineLosses([
          [ce, 1],
          [reg, lambda],
        ])
      : ce;
    return { loss, ce, tokens: counted };
  }

  /** Hidden state at each entry's last real prompt position, with the given side's tables: [B, d]. */
  lastHidden(side: Side, b: PromptBatch, drop?: Gpt2Dropout): Tensor {
    const lay = layoutPromptOnly(b.promptIds, b.promptMask, b.promptLengths, b.size, b.promptLen);
    const x0 = this.embed(side, lay.ids, lay.positions);
    const { hidden } = this.backbone.forward(x0, this.maskTensor(lay.mask), b.size, b.promptLen, undefined, drop);
    return selectRows(hidden, Tensor.from(lay.lastRows, [b.size], { device: this.device }), lay.lastRows);
  }

  /**
   * Scores over all J items after each prompt: [B, J]. With a RecLLM prompt these are the
   * RecLLM scores; with a collaborative prompt, the collaborative LM's next-item logits
   * (LLM-PreRec) — both heads are the same item table.
   */
  recScores(b: PromptBatch, drop?: Gpt2Dropout): Tensor {
    return matmul(this.lastHidden("collab", b, drop), this.collab.item, { transB: true });
  }

  /**
   * RecLLM finetuning loss (SPEC.md §6): multinomial NLL of the multi-hot targets under
   * softmax(h W^T) (sparse targets; the head streams W in chunks, so [B, J] scores never exist
   * at once), plus lambda times the regulariser of the rec (collab) embeddings of prompt and
   * target tokens toward the content embeddings.
   */
  recLoss(
    b: PromptBatch,
    targets: number[][],
    lambda: number,
    scale: RegScale = "mean",
    drop?: Gpt2Dropout,
  ): { loss: Tensor; nll: Tensor } {
    const B = b.size;
    const regIds: number[] = [];
    for (let r = 0; r < B; r++) for (const j of targets[r]) regIds.push(this.N + this.I + j);
    for (let i = 0; i < b.promptIds.length; i++) if (b.promptMask[i]) regIds.push(b.promptIds[i]);
    const t = multiHotTargets(targets.slice(0, B), this.J, "recLoss"); // a repeated item counts once
    const nll = linearMultinomialNll(this.lastHidden("collab", b, drop), this.collab.item, t);
    const reg = lambda > 0 ? this.regularizer("collab", Int32Array.from(regIds), B, scale) : null;
    return {
      loss: reg
        ? combineLosses([
            [nll, 1],
            [reg, lambda],
          ])
        : nll,
      nll,
    };
  }

  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}
