// Global gradient-norm clipping (as torch.nn.utils.clip_grad_norm_): one norm over all
// gradients; when it exceeds maxNorm every gradient is scaled by maxNorm / (norm + 1e-6).
import { Tensor, native } from "../engine";

/** The L2 norm of all gradients together (one host read). Parameters without a gradient are skipped. */
export function gradNorm(params: readonly Tensor[]): number {
  const withGrad = params.filter((p) => p.grad);
  if (!withGrad.length) return 0;
  const nat = native();
  const acc = Tensor.zeros([1], { device: withGrad[0].device });
  try {
    // sum of squares as a 1x1 GEMM g·g per tensor, accumulated in place (beta = 1)
    for (const p of withGrad) {
      const g = p.grad!;
      nat.gemm(false, true, 1, 1, g.numel, 1, g.buffer, 0, 0, g.buffer, 0, 0, 1, acc.buffer, 0, 0, 1, null);
    }
    return Math.sqrt(acc.item());
  } finally {
    acc.dispose();
  }
}

/** Clips in place; returns the norm before clipping. maxNorm <= 0 or Infinity only measures. */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  const norm = gradNorm(params);
  if (maxNorm > 0 && Number.isFinite(maxNorm) && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const p of params) if (p.grad) native().add(p.grad.buffer, s, null, 0, p.grad.buffer, p.grad.numel, false);
  }
  return norm;
}
