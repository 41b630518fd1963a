// Greedy next-token generation with GPT-2's tied LM head: a quick way to check that a
// loaded checkpoint is sane ("The capital of France is" -> " Paris" for a real GPT-2).
import { Tensor, tidy, noGrad, matmul, selectRows, embedTokens, add } from "../engine";
import type { Gpt2 } from "./gpt2";

/** Logits [V] of the token after `ids` (one sequence, no padding). */
export function nextTokenLogits(model: Gpt2, ids: readonly number[]): Float32Array {
  const T = ids.length;
  if (T === 0) throw new RangeError("nextTokenLogits: empty prompt");
  if (T > model.config.nPositions)
    throw new RangeError(`nextTokenLogits: ${T} tokens exceed the model's ${model.config.nPositions} positions`);
  return noGrad(() =>
    tidy(() => {
      const dev = model.device;
      const idsHost = Int32Array.from(ids);
      const x0 = add(
        embedTokens(idsHost, Tensor.from(idsHost, [T], { device: dev }), [{ table: model.wte, base: 0 }]),
        model.positions(Int32Array.from({ length: T }, (_, t) => t)),
      );
      const { hidden } = model.forward(x0, Tensor.full([T], 1, { device: dev, dtype: "i32" }), 1, T);
      const last = Int32Array.of(T - 1);
      const h = selectRows(hidden, Tensor.from(last, [1], { device: dev }), last);
      return matmul(h, model.wte, { transB: true }).toFloat32();
    }),
  );
}

/** Appends `count` greedily chosen tokens (ties: the lowest id). */
export function greedyGenerate(model: Gpt2, ids: readonly number[], count: number): number[] {
  const out = [...ids];
  for (let k = 0; k < count; k++) {
    const logits = nextTokenLogits(model, out.slice(-model.config.nPositions));
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
    out.push(best);
  }
  return out.slice(ids.length);
}
