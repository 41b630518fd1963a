// Reads the training loss on the host every k steps instead of every step: each step's
// scalar loss is written (stream-ordered, no sync) into a k-slot ring on the loss's device by
// the guard kernel (flagNonfinite), which also records the first step whose loss is NaN/Inf
// in the ring's last word. One download every k steps hands the host all k values and that
// step; the optimizer reads the word on the device (Adam.step(watch.halt)) and stops
// updating at the bad step, so the tables keep their last finite state ("bad input loses
// nothing"), whatever k is.
import { Tensor, keep, native } from "../../engine";
import type { Device } from "../../engine";
import type { HaltFlag } from "../../nn/adam";

/** Host reads per step: 1 on the CPU (a read costs nothing there), 16 on CUDA. */
export function defaultSyncEvery(device: Device): number {
  return device === "cuda" ? 16 : 1;
}

export class LossWatch {
  private readonly ring: Tensor; // int32 [k + 1]: the bits of the losses since the last read, then the first bad step
  private readonly host: Int32Array;
  private readonly hostLosses: Float32Array; // the first k words of host, as floats
  /** the guard's word: set on the device at the first non-finite loss (Adam.step skips from there) */
  readonly halt: HaltFlag;
  private readonly steps: number[] = []; // step numbers of the filled slots
  private disposed = false;

  /**
   * `report(step, value, halted)` gets every step's loss in step order, at the read that
   * covers it; halted is true for the step the device guard flagged (its first non-finite
   * loss). It may throw (e.g. on that step), which stops the reads of later slots.
   */
  constructor(
    readonly every: number,
    device: Device,
    private readonly report: (step: number, value: number, halted: boolean) => void,
  ) {
    if (!(Number.isInteger(every) && every >= 1)) throw new RangeError(`LossWatch: sync interval must be an integer >= 1, got ${every}`);
    this.ring = keep(Tensor.zeros([every + 1], { device, dtype: "i32" }));
    this.host = new Int32Array(every + 1);
    this.hostLosses = new Float32Array(this.host.buffer, 0, every);
    this.halt = { tensor: this.ring, offset: every };
  }

  /** Records this step's one-element loss; reads the buffer on the host when it is full. */
  push(loss: Tensor, step: number): void {
    if (this.disposed) throw new Error("LossWatch: push after dispose");
    if (loss.numel !== 1 || loss.dtype !== "f32")
      throw new RangeError(`LossWatch: loss must be one f32 value, got shape [${loss.shape.join(", ")}] ${loss.dtype}`);
    if (loss.device !== this.ring.device) throw new RangeError(`LossWatch: loss on ${loss.device}, buffer on ${this.ring.device}`);
    if (!(Number.isInteger(step) && step >= 1 && step <= 0x7fffffff))
      throw new RangeError(`LossWatch: step must be an integer in [1, 2^31), got ${step}`);
    const slot = this.steps.length;
    native().flagNonfinite(loss.buffer, 1, step, this.ring.buffer, this.every, this.ring.buffer, slot);
    this.steps.push(step);
    if (this.steps.length === this.every) this.flush();
  }

  /** Reads the pending losses and the guard's step (one host sync) and reports them; a no-op when none pend. */
  flush(): void {
    if (this.steps.length === 0) return;
    native().download(this.ring.buffer, this.host);
    const halted = this.host[this.every];
    const steps = this.steps.splice(0);
    steps.forEach((s, i) => {
      this.report(s, this.hostLosses[i], halted !== 0 && s === halted);
    });
  }

  /** Steps pushed but not yet read on the host. */
  get pending(): number {
    return this.steps.length;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.steps.length = 0;
    this.ring.dispose();
  }
}
