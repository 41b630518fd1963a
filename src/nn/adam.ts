// Adam (Kingma & Ba), in place on the device, bias-corrected. With weightDecay > 0 it is
// AdamW (Loshchilov & Hutter): p *= 1 - lr * wd before the Adam update, decoupled from the
// gradient, as torch.optim.AdamW; `noDecay` names parameters exempt from it (biases, LayerNorm).
import { Tensor, keep, native } from "../engine";

/** One int32 word of a tensor (element `offset`), on the device: non-zero makes every update a no-op. */
export interface HaltFlag {
  readonly tensor: Tensor;
  readonly offset: number;
}

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** decoupled weight decay (default 0 = plain Adam) */
  weightDecay?: number;
  /** parameters that get no weight decay */
  noDecay?: ReadonlySet<Tensor>;
}

export class Adam {
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  stepCount = 0;
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly noDecay: ReadonlySet<Tensor>;

  constructor(
    readonly params: Tensor[],
    opts: AdamOptions,
  ) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    if (!(this.weightDecay >= 0)) throw new RangeError(`Adam: weightDecay must be >= 0, got ${opts.weightDecay}`);
    this.noDecay = opts.noDecay ?? new Set();
    for (const p of params) if (!p.requiresGrad) throw new Error(`Adam: parameter ${p} does not require grad`);
    this.m = params.map((p) => keep(Tensor.zeros(p.shape, { device: p.device })));
    this.v = params.map((p) => keep(Tensor.zeros(p.shape, { device: p.device })));
  }

  /**
   * One update of every parameter that has a gradient. halt: a flag read on the device (the
   * LossWatch's non-finite guard); once it is set, the kernels leave p, m and v as they are.
   */
  step(halt?: HaltFlag): void {
    if (halt && this.weightDecay > 0) throw new Error("Adam: a halt flag with weight decay is not supported (the decay would still apply)");
    this.stepCount++;
    const nat = native();
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      if (this.weightDecay > 0 && !this.noDecay.has(p))
        nat.add(p.buffer, 1 - this.lr * this.weightDecay, null, 0, p.buffer, p.numel, false);
      nat.adam(
        p.buffer,
        p.grad.buffer,
        this.m[i].buffer,
        this.v[i].buffer,
        p.numel,
        this.lr,
        this.beta1,
        this.beta2,
        this.eps,
        this.stepCount,
        halt?.tensor.buffer ?? null,
        halt?.offset ?? 0,
      );
    });
  }

  zeroGrad(): void {
    for (const p of this.params) if (p.grad) native().fill(p.grad.buffer, 0, p.numel);
  }

  /** Moments for checkpoints: [m_0, v_0, m_1, v_1, ...]. */
  state(): Tensor[] {
    return this.params.flatMap((_, i) => [this.m[i], this.v[i]]);
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}
