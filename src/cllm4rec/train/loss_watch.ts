// Reads the training loss on the host every k steps instead of every step: each step's
// scalar loss is copied (stream-ordered, no sync) into a k-slot buffer on the loss's
// device, and one download every k steps hands the host all k values, so a NaN/Inf is
// still reported with the exact step where it appeared.
import { Tensor, keep, native } from "../../engine";
import type { Device } from "../../engine";

/** Host reads per step: 1 on the CPU (a read costs nothing there), 16 on CUDA. */
export function defaultSyncEvery(device: Device): number {
  return device === "cuda" ? 16 : 1;
}

export class LossWatch {
  private readonly ring: Tensor; // [k] losses of the steps since the last read
  private readonly host: Float32Array;
  private readonly steps: number[] = []; // step numbers of the filled slots
  private disposed = false;

  /**
   * `report(step, value)` gets every step's loss in step order, at the read that covers it;
   * it may throw (e.g. on a non-finite loss), which stops the reads of later slots.
   */
  constructor(
    readonly every: number,
    device: Device,
    private readonly report: (step: number, value: number) => void,
  ) {
    if (!(Number.isInteger(every) && every >= 1)) throw new RangeError(`LossWatch: sync interval must be an integer >= 1, got ${every}`);
    this.ring = keep(Tensor.zeros([every], { device }));
    this.host = new Float32Array(every);
  }

  /** Records this step's one-element loss; reads the buffer on the host when it is full. */
  push(loss: Tensor, step: number): void {
    if (this.disposed) throw new Error("LossWatch: push after dispose");
    if (loss.numel !== 1 || loss.dtype !== "f32")
      throw new RangeError(`LossWatch: loss must be one f32 value, got shape [${loss.shape.join(", ")}] ${loss.dtype}`);
    if (loss.device !== this.ring.device) throw new RangeError(`LossWatch: loss on ${loss.device}, buffer on ${this.ring.device}`);
    native().copy(this.ring.buffer, this.steps.length, loss.buffer, 0, 1);
    this.steps.push(step);
    if (this.steps.length === this.every) this.flush();
  }

  /** Reads the pending losses (one host sync) and reports them; a no-op when none pend. */
  flush(): void {
    if (this.steps.length === 0) return;
    native().download(this.ring.buffer, this.host);
    const steps = this.steps.splice(0);
    steps.forEach((s, i) => {
      this.report(s, this.host[i]);
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
