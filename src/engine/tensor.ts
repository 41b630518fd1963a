// Tensor: a shape (TypeScript) over refcounted native storage (cpu or cuda).
// Lifetimes are explicit: dispose(), or tidy(fn) which frees everything made inside
// fn except what fn returns. A FinalizationRegistry (in the addon, on the External)
// is only a backstop.
import { native, type NativeBuffer, type DeviceCode, type DTypeCode } from "./native";
import type { GradNode } from "./autograd";

export type Device = "cpu" | "cuda";
export type DType = "f32" | "i32";

const deviceCode = (d: Device): DeviceCode => (d === "cuda" ? 1 : 0);
const dtypeCode = (t: DType): DTypeCode => (t === "i32" ? 1 : 0);

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new RangeError(`invalid shape [${shape.join(", ")}]`);
    n *= s;
  }
  return n;
}

/** Native storage shared by a tensor and its reshaped views. */
class Storage {
  refs = 1;
  constructor(
    readonly buf: NativeBuffer,
    readonly numel: number,
  ) {}
  release(): void {
    if (--this.refs === 0) native().free(this.buf);
  }
}

// ---- scopes -------------------------------------------------------------------------
const scopes: Set<Tensor>[] = [];

function track(t: Tensor): void {
  const top = scopes[scopes.length - 1];
  if (top) top.add(t);
}

/** Collects the tensors reachable in a value returned from a scope. */
function collectTensors(v: unknown, out: Set<Tensor>): void {
  if (v instanceof Tensor) out.add(v);
  else if (Array.isArray(v)) for (const x of v) collectTensors(x, out);
  else if (v && typeof v === "object" && !ArrayBuffer.isView(v))
    for (const x of Object.values(v as Record<string, unknown>)) collectTensors(x, out);
}

/**
 * Runs fn, then disposes every tensor created inside it except those reachable from its
 * result (arrays and plain objects are searched) and those passed to keep(). Kept tensors
 * move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  const keepSet = new Set<Tensor>();
  collectTensors(result, keepSet);
  for (const t of scope) {
    if (keepSet.has(t) || t.kept) {
      if (!t.disposed) track(t);
    } else t.dispose();
  }
  return result;
}

/** Async variant of tidy for code that awaits inside (e.g. progress output). */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  const depth = scopes.length;
  try {
    const result = await fn();
    const keepSet = new Set<Tensor>();
    collectTensors(result, keepSet);
    for (const t of scope) if (!keepSet.has(t) && !t.kept) t.dispose();
    if (scopes.length !== depth) throw new Error("tidyAsync: scopes were interleaved");
    scopes.pop();
    for (const t of scope) if (!t.disposed) track(t);
    return result;
  } catch (e) {
    if (scopes[scopes.length - 1] === scope) scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
}

/** Marks a tensor to survive the scopes it was created in (parameters, optimiser state). */
export function keep<T extends Tensor>(t: T): T {
  t.kept = true;
  for (const s of scopes) s.delete(t);
  return t;
}

// ---- tensor ---------------------------------------------------------------------------
export interface TensorOptions {
  device?: Device;
  dtype?: DType;
  requiresGrad?: boolean;
}

export class Tensor {
  readonly shape: readonly number[];
  readonly numel: number;
  readonly device: Device;
  readonly dtype: DType;
  requiresGrad: boolean;
  /** accumulated gradient of a leaf that requires grad (never tracked by scopes) */
  grad: Tensor | null = null;
  /** the op that produced this tensor, when it is part of a graph */
  node: GradNode | null = null;
  kept = false;
  name = "";
  private storage: Storage | null;

  private constructor(storage: Storage, shape: readonly number[], device: Device, dtype: DType, requiresGrad: boolean) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.numel = numelOf(shape);
    this.device = device;
    this.dtype = dtype;
    this.requiresGrad = requiresGrad;
    track(this);
  }

  /** A zero-filled tensor. */
  static zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
    return Tensor.allocate(shape, opts, true);
  }

  /**
   * A tensor whose contents are undefined, for an output its op writes in full (no pass
   * zeroing memory first). The test runners set CLLM4REC_POISON_EMPTY=1, which fills it with
   * NaN bits, so an element an op forgot to write shows in every test.
   */
  static empty(shape: readonly number[], opts: TensorOptions = {}): Tensor {
    return Tensor.allocate(shape, opts, false);
  }

  private static allocate(shape: readonly number[], opts: TensorOptions, zero: boolean): Tensor {
    const device = opts.device ?? "cpu";
    const dtype = opts.dtype ?? "f32";
    const numel = numelOf(shape);
    const n = native();
    const buf = (zero ? n.alloc : n.allocEmpty)(deviceCode(device), dtypeCode(dtype), Math.max(numel, 1));
    return new Tensor(new Storage(buf, numel), shape, device, dtype, opts.requiresGrad ?? false);
  }

  static full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
    if (opts.dtype === "i32") return Tensor.from(new Int32Array(numelOf(shape)).fill(value), shape, opts);
    const t = Tensor.zeros(shape, opts);
    if (value !== 0) native().fill(t.buffer, value, t.numel);
    return t;
  }

  /** Copies host data into a new tensor. */
  static from(data: ArrayLike<number>, shape: readonly number[], opts: TensorOptions = {}): Tensor {
    const dtype = opts.dtype ?? (data instanceof Int32Array ? "i32" : "f32");
    const n = numelOf(shape);
    if (data.length !== n) throw new RangeError(`Tensor.from: ${data.length} values do not fill shape [${shape.join(", ")}] (${n})`);
    const host =
      dtype === "i32"
        ? data instanceof Int32Array
          ? data
          : Int32Array.from(data)
        : data instanceof Float32Array
          ? data
          : Float32Array.from(data);
    if (dtype === "i32" && !(data instanceof Int32Array)) {
      for (let i = 0; i < n; i++)
        if (!Number.isInteger(data[i]) || data[i] > 2147483647 || data[i] < -2147483648)
          throw new RangeError(`Tensor.from: value ${data[i]} at ${i} is not an int32`);
    }
    const t = n > 0 ? Tensor.empty(shape, { ...opts, dtype }) : Tensor.zeros(shape, { ...opts, dtype });
    if (n > 0) native().upload(t.buffer, host);
    return t;
  }

  get buffer(): NativeBuffer {
    if (!this.storage) throw new Error(`tensor${this.name ? ` '${this.name}'` : ""} [${this.shape.join(", ")}] was disposed`);
    return this.storage.buf;
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  /** Host copy of the data (synchronises with the device). */
  toArray(): Float32Array | Int32Array {
    const out = this.dtype === "i32" ? new Int32Array(this.numel) : new Float32Array(this.numel);
    if (this.numel > 0) native().download(this.buffer, out);
    return out;
  }

  toFloat32(): Float32Array {
    if (this.dtype !== "f32") throw new TypeError(`toFloat32: tensor is ${this.dtype}`);
    return this.toArray() as Float32Array;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) throw new RangeError(`item(): tensor has shape [${this.shape.join(", ")}]`);
    return this.toArray()[0];
  }

  /** A new tensor sharing this storage under another shape (no copy, no graph edge;
   *  ops/reshape.ts adds the autograd edge). */
  view(shape: readonly number[]): Tensor {
    const n = numelOf(shape);
    if (n !== this.numel) throw new RangeError(`reshape: cannot view [${this.shape.join(", ")}] as [${shape.join(", ")}]`);
    const s = this.storage;
    if (!s) throw new Error("reshape: tensor was disposed");
    s.refs++;
    return new Tensor(s, shape, this.device, this.dtype, false);
  }

  /** A copy on another device (or the same tensor when already there). */
  to(device: Device): Tensor {
    if (device === this.device) return this;
    const t = Tensor.empty(this.shape, { device, dtype: this.dtype, requiresGrad: this.requiresGrad });
    if (this.numel > 0) native().copy(t.buffer, 0, this.buffer, 0, this.numel);
    return t;
  }

  /** An independent copy on the same device, outside any graph. */
  clone(): Tensor {
    const t = Tensor.empty(this.shape, { device: this.device, dtype: this.dtype });
    if (this.numel > 0) native().copy(t.buffer, 0, this.buffer, 0, this.numel);
    return t;
  }

  /** Overwrites this tensor's data with src's (same numel and dtype; any device). */
  copyFrom(src: Tensor): void {
    if (src.numel !== this.numel || src.dtype !== this.dtype)
      throw new RangeError(`copyFrom: [${src.shape.join(", ")}] ${src.dtype} into [${this.shape.join(", ")}] ${this.dtype}`);
    if (this.numel > 0) native().copy(this.buffer, 0, src.buffer, 0, this.numel);
  }

  /** Frees the storage (when no other view holds it) and this tensor's gradient. */
  dispose(): void {
    if (this.storage) {
      this.storage.release();
      this.storage = null;
    }
    this.node = null;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  toString(): string {
    return `Tensor(${this.name ? this.name + ", " : ""}[${this.shape.join(", ")}], ${this.dtype}, ${this.device})`;
  }
}

export function describe(t: Tensor): string {
  return `[${t.shape.join(", ")}] ${t.dtype} on ${t.device}`;
}

/** Throws a TypeError naming op when tensors are on different devices or dtypes differ from expected. */
export function expect(op: string, t: Tensor, what: string, dtype: DType, rank?: number): void {
  if (t.disposed) throw new Error(`${op}: ${what} was disposed`);
  if (t.dtype !== dtype) throw new TypeError(`${op}: ${what} must be ${dtype}, got ${describe(t)}`);
  if (rank !== undefined && t.shape.length !== rank) throw new RangeError(`${op}: ${what} must have rank ${rank}, got ${describe(t)}`);
}

export function sameDevice(op: string, ...ts: Tensor[]): Device {
  const d = ts[0].device;
  for (const t of ts) if (t.device !== d) throw new TypeError(`${op}: tensors on different devices: ${ts.map(describe).join(" / ")}`);
  return d;
}
