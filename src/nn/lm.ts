// The causal language-model loss of GPT-2 with its head tied to wte: each position
// predicts the next token (Hugging Face GPT2LMHeadModel's shifted cross-entropy).
import { Tensor, add, embedTokens, linearCrossEntropy } from "../engine";
import type { Gpt2 } from "./gpt2";

/**
 * Mean next-token cross-entropy over `batch` rows of `t` ids each (ids [batch*t], row-major).
 * mask (optional, [batch*t], 1 = real token, 0 = right padding): pads attend nowhere and
 * are never targets. Returns a scalar loss tensor (backward reaches every trainable weight,
 * wte through both the input embedding and the tied head).
 */
export function lmLoss(model: Gpt2, ids: Int32Array, batch: number, t: number, mask?: Int32Array): Tensor {
  if (ids.length !== batch * t) throw new RangeError(`lmLoss: ${ids.length} ids do not fill [${batch}, ${t}]`);
  if (t < 2) throw new RangeError(`lmLoss: rows need at least 2 tokens, got ${t}`);
  if (t > model.config.nPositions) throw new RangeError(`lmLoss: ${t} tokens exceed the model's ${model.config.nPositions} positions`);
  if (mask && mask.length !== ids.length) throw new RangeError(`lmLoss: mask has ${mask.length} entries, ids ${ids.length}`);
  const dev = model.device;
  const targets = new Int32Array(batch * t).fill(-1); // [B*T]: the next id, -1 = no loss
  for (let b = 0; b < batch; b++)
    for (let s = 0; s + 1 < t; s++) {
      const next = b * t + s + 1;
      if (!mask || (mask[next] && mask[next - 1])) targets[b * t + s] = ids[next];
    }
  const pos = new Int32Array(batch * t);
  for (let i = 0; i < pos.length; i++) pos[i] = i % t;
  const x0 = add(embedTokens(ids, Tensor.from(ids, [ids.length], { device: dev }), [{ table: model.wte, base: 0 }]), model.positions(pos)); // [B*T, d]
  const keyMask = mask ? Tensor.from(mask, [mask.length], { device: dev }) : Tensor.full([ids.length], 1, { device: dev, dtype: "i32" });
  const { hidden } = model.forward(x0, keyMask, batch, t);
  return linearCrossEntropy(hidden, model.wte, targets);
}
