// PyTorch state dicts (pytorch_model.bin): the zip format of torch.save (>= 1.6: data.pkl plus
// one blob per storage) and the legacy format before it (a sequence of pickles, then the raw
// storages). The pickle goes through the restricted unpickler with the few globals a state
// dict needs (OrderedDict, the tensor/parameter rebuilders, the storage types); those are
// implemented here, so reading a file never runs code from it.
import * as fs from "node:fs";
import { bf16ToF32, f16ToF32 } from "./half";
import { PyGlobal, type PyValue, typeName, unpickle } from "./pickle";
import type { SafeTensor, SafetensorsDtype } from "./safetensors";
import { openZip } from "./zip";

interface StorageType {
  dtype: string; // torch name, for messages
  bytes: number;
  label: SafetensorsDtype;
  /** element k of the storage's bytes as a number */
  get: (v: DataView, k: number) => number;
  float: boolean;
}

const one = new Float32Array(1);
const halfBits = (conv: typeof f16ToF32) => (v: DataView, k: number) => {
  conv(new Uint8Array(v.buffer, v.byteOffset + 2 * k, 2), 0, one);
  return one[0];
};

const STORAGES: Record<string, StorageType> = {
  FloatStorage: { dtype: "float32", bytes: 4, label: "F32", float: true, get: (v, k) => v.getFloat32(4 * k, true) },
  DoubleStorage: { dtype: "float64", bytes: 8, label: "F64", float: true, get: (v, k) => v.getFloat64(8 * k, true) },
  HalfStorage: { dtype: "float16", bytes: 2, label: "F16", float: true, get: halfBits(f16ToF32) },
  BFloat16Storage: { dtype: "bfloat16", bytes: 2, label: "BF16", float: true, get: halfBits(bf16ToF32) },
  IntStorage: { dtype: "int32", bytes: 4, label: "I32", float: false, get: (v, k) => v.getInt32(4 * k, true) },
  ShortStorage: { dtype: "int16", bytes: 2, label: "I32", float: false, get: (v, k) => v.getInt16(2 * k, true) },
  CharStorage: { dtype: "int8", bytes: 1, label: "I32", float: false, get: (v, k) => v.getInt8(k) },
  ByteStorage: { dtype: "uint8", bytes: 1, label: "I32", float: false, get: (v, k) => v.getUint8(k) },
  BoolStorage: { dtype: "bool", bytes: 1, label: "I32", float: false, get: (v, k) => (v.getUint8(k) ? 1 : 0) },
  LongStorage: {
    dtype: "int64",
    bytes: 8,
    label: "I32",
    float: false,
    get: (v, k) => {
      const x = v.getBigInt64(8 * k, true);
      if (x > 2147483647n || x < -2147483648n) throw new Error(`int64 element ${k} (${x}) does not fit in int32`);
      return Number(x);
    },
  },
};

/** A storage named by a persistent id; its bytes are fetched when a tensor uses it. */
class Storage {
  private cached: Uint8Array | null = null;
  constructor(
    readonly type: StorageType,
    readonly key: string,
    readonly numel: number,
    private readonly load: () => Uint8Array,
  ) {}
  bytes(): Uint8Array {
    if (!this.cached) {
      const b = this.load();
      if (b.length < this.numel * this.type.bytes) {
        throw new Error(
          `storage ${this.key} holds ${b.length} bytes, ${this.numel} ${this.type.dtype} elements need ${this.numel * this.type.bytes}`,
        );
      }
      this.cached = b;
    }
    return this.cached;
  }
}

/** A tensor as the pickle describes it: a strided view of a storage. */
class TensorRef {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
  materialize(name: string): SafeTensor {
    const t = this.storage.type;
    const b = this.storage.bytes();
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const count = this.shape.reduce((a, x) => a * x, 1);
    const out = t.float ? new Float32Array(count) : new Int32Array(count);
    const nd = this.shape.length;
    const contiguous = this.stride.every((s, d) => this.shape[d] === 1 || s === this.shape.slice(d + 1).reduce((a, x) => a * x, 1));
    if (contiguous && (t.label === "F32" || (t.label === "I32" && t.bytes === 4 && t.dtype === "int32"))) {
      // same layout as ours (little-endian host): one copy instead of a per-element walk
      new Uint8Array(out.buffer).set(b.subarray(this.offset * 4, (this.offset + count) * 4));
      return { dtype: t.label, shape: [...this.shape], data: out };
    }
    const idx = new Array<number>(nd).fill(0);
    let src = this.offset;
    for (let e = 0; e < count; e++) {
      try {
        out[e] = t.get(view, src);
      } catch (err) {
        throw new Error(`tensor ${JSON.stringify(name)}: ${(err as Error).message}`);
      }
      // odometer over the shape, walking the storage by the strides
      for (let d = nd - 1; d >= 0; d--) {
        idx[d]++;
        src += this.stride[d];
        if (idx[d] < this.shape[d]) break;
        src -= this.stride[d] * this.shape[d];
        idx[d] = 0;
      }
    }
    return { dtype: t.label, shape: [...this.shape], data: out };
  }
}

const isInt = (v: PyValue): v is number => typeof v === "number" && Number.isSafeInteger(v);
const intList = (v: PyValue, what: string): number[] => {
  if (!Array.isArray(v) || !v.every((x) => isInt(x) && x >= 0))
    throw new Error(`${what} ${describe(v)} is not a tuple of non-negative integers`);
  return v as number[];
};
function describe(v: PyValue): string {
  try {
    return JSON.stringify(v, (_, x) => (typeof x === "bigint" ? String(x) : x instanceof Map ? "dict" : x)) ?? typeName(v);
  } catch {
    return typeName(v);
  }
}

function rebuildTensor(args: PyValue[]): TensorRef {
  if (args.length < 4) throw new Error(`expects (storage, offset, size, stride, ...), got ${args.length} argument(s)`);
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof Storage)) throw new Error(`first argument is a ${typeName(storage)}, not a storage`);
  if (!isInt(offset) || offset < 0) throw new Error(`storage offset ${describe(offset)} is not a non-negative integer`);
  const shape = intList(size, "size"),
    strides = intList(stride, "stride");
  if (shape.length !== strides.length) throw new Error(`size [${shape}] and stride [${strides}] differ in length`);
  if (shape.length > 16) throw new Error(`${shape.length} dimensions`);
  const count = shape.reduce((a, x) => a * x, 1);
  // a view never has more elements than its storage, except broadcast (stride 0) views, which
  // state dicts do not hold: refusing them bounds every allocation by the file's own size
  if (!Number.isSafeInteger(count) || count > Math.max(storage.numel, 1))
    throw new Error(`size [${shape}] has more elements than its ${storage.numel}-element storage`);
  // the last element the view touches must lie inside the storage
  const last = count === 0 ? offset - 1 : offset + shape.reduce((a, x, d) => a + (x - 1) * strides[d], 0);
  if (last >= storage.numel)
    throw new Error(
      `view (offset ${offset}, size [${shape}], stride [${strides}]) reaches element ${last} of a ${storage.numel}-element storage`,
    );
  return new TensorRef(storage, offset, shape, strides);
}

function globalsFor(): Record<string, PyGlobal> {
  const g: Record<string, PyGlobal> = {
    "collections.OrderedDict": new PyGlobal("collections.OrderedDict", (args) => {
      const m = new Map<PyValue, PyValue>();
      if (args.length === 0) return m;
      if (args.length === 1 && Array.isArray(args[0])) {
        for (const kv of args[0] as PyValue[]) {
          if (!Array.isArray(kv) || kv.length !== 2) throw new Error("items are not (key, value) pairs");
          m.set(kv[0], kv[1]);
        }
        return m;
      }
      throw new Error(`unexpected arguments ${describe(args)}`);
    }),
    "torch._utils._rebuild_tensor_v2": new PyGlobal("torch._utils._rebuild_tensor_v2", rebuildTensor),
    "torch._utils._rebuild_parameter": new PyGlobal("torch._utils._rebuild_parameter", (args) => {
      if (!(args[0] instanceof TensorRef)) throw new Error(`expects a tensor, got a ${typeName(args[0])}`);
      return args[0];
    }),
  };
  for (const s of Object.keys(STORAGES)) g[`torch.${s}`] = new PyGlobal(`torch.${s}`);
  return g;
}

/** ('storage', torch.XStorage, key, location, numel[, view metadata]) -> a lazily read Storage. */
function storageFromPid(
  pid: PyValue,
  load: (key: string, type: StorageType, numel: number) => () => Uint8Array,
  seen: Map<string, Storage>,
): Storage {
  if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== "storage")
    throw new Error(`persistent id ${describe(pid)} is not a ('storage', type, key, location, numel) tuple`);
  const [, type, key, , numel] = pid;
  if (pid.length > 5 && pid[5] !== null) throw new Error(`storage views (${describe(pid[5])}) are not supported`);
  if (!(type instanceof PyGlobal) || !type.name.startsWith("torch.") || !(type.name.slice(6) in STORAGES))
    throw new Error(`storage type ${describe(type)} is not supported`);
  if (typeof key !== "string" || !/^[\w.-]{1,64}$/.test(key)) throw new Error(`storage key ${describe(key)} is not a plain name`);
  if (!isInt(numel) || numel < 0) throw new Error(`storage ${key}: element count ${describe(numel)} is not a non-negative integer`);
  const st = STORAGES[type.name.slice(6)];
  const prev = seen.get(key);
  if (prev) {
    if (prev.type !== st || prev.numel !== numel) throw new Error(`storage ${key} is named twice with different types or sizes`);
    return prev;
  }
  const s = new Storage(st, key, numel, load(key, st, numel));
  seen.set(key, s);
  return s;
}

function stateDict(value: PyValue, source: string): Map<string, SafeTensor> {
  if (!(value instanceof Map)) throw new Error(`readTorchStateDict(${source}): the pickle holds a ${typeName(value)}, not a state dict`);
  const out = new Map<string, SafeTensor>();
  for (const [k, v] of value) {
    if (typeof k !== "string") throw new Error(`readTorchStateDict(${source}): key ${describe(k)} is not a string`);
    if (!(v instanceof TensorRef))
      throw new Error(`readTorchStateDict(${source}): entry ${JSON.stringify(k)} is a ${typeName(v)}, not a tensor`);
    try {
      out.set(k, v.materialize(k));
    } catch (e) {
      throw new Error(`readTorchStateDict(${source}): ${(e as Error).message}`);
    }
  }
  return out;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/**
 * Reads a PyTorch state dict (name -> tensor) saved by torch.save; floating tensors come back as
 * Float32Array (dtype says what was stored), integer ones as Int32Array. Malformed input is an
 * Error naming the file and what is wrong.
 */
export function readTorchStateDict(input: string | Uint8Array, sourceName?: string): Map<string, SafeTensor> {
  const source = sourceName ?? (typeof input === "string" ? input : "<buffer>");
  let bytes: Uint8Array;
  if (typeof input === "string") {
    try {
      bytes = fs.readFileSync(input);
    } catch (e) {
      throw new Error(`readTorchStateDict: cannot read ${input}: ${(e as Error).message}`);
    }
  } else bytes = input;
  const seen = new Map<string, Storage>();
  const build = () => {}; // an OrderedDict's _metadata (module versions) carries no weights
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
    const zip = openZip(bytes, source);
    const pkl = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkl.length !== 1)
      throw new Error(
        `readTorchStateDict(${source}): expected one <folder>/data.pkl in the zip, found ${pkl.length ? pkl.join(", ") : "none"}`,
      );
    const prefix = pkl[0].slice(0, -"data.pkl".length);
    const order = zip.entries.get(`${prefix}byteorder`);
    if (order && new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim() !== "little")
      throw new Error(`readTorchStateDict(${source}): big-endian storages are not supported`);
    const { value } = unpickle(zip.read(pkl[0]), {
      source: `${source}:${pkl[0]}`,
      globals: globalsFor(),
      build,
      persistentLoad: (pid) =>
        storageFromPid(
          pid,
          (key) => () => {
            const name = `${prefix}data/${key}`;
            if (!zip.entries.has(name)) throw new Error(`storage ${key}: the zip has no entry ${name}`);
            return zip.read(name);
          },
          seen,
        ),
    });
    return stateDict(value, source);
  }
  // legacy: magic number, protocol version, system info, the object, the storage keys, then storages
  const opts = { source, globals: globalsFor(), build };
  let p = 0;
  const next = () => {
    const r = unpickle(bytes, opts, p);
    p = r.end;
    return r.value;
  };
  let magic: PyValue;
  try {
    magic = next();
  } catch (e) {
    throw new Error(`readTorchStateDict(${source}): neither a zip archive nor a legacy torch.save file (${(e as Error).message})`);
  }
  if (magic !== LEGACY_MAGIC) throw new Error(`readTorchStateDict(${source}): not a torch.save file (magic ${describe(magic)})`);
  const protocol = next();
  if (protocol !== 1001) throw new Error(`readTorchStateDict(${source}): legacy protocol ${describe(protocol)} is not 1001`);
  const info = next();
  if (info instanceof Map && info.get("little_endian") === false)
    throw new Error(`readTorchStateDict(${source}): big-endian storages are not supported`);
  const pending: Storage[] = [];
  const blobs = new Map<string, Uint8Array>();
  const { value, end } = unpickle(
    bytes,
    {
      ...opts,
      persistentLoad: (pid) => {
        const s = storageFromPid(
          pid,
          (key) => () => {
            const b = blobs.get(key);
            if (!b) throw new Error(`storage ${key} has no data in the file`);
            return b;
          },
          seen,
        );
        if (!pending.includes(s)) pending.push(s);
        return s;
      },
    },
    p,
  );
  p = end;
  const keys = next();
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string"))
    throw new Error(`readTorchStateDict(${source}): the storage key list is a ${typeName(keys)}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys as string[]) {
    const s = seen.get(key);
    if (!s) throw new Error(`readTorchStateDict(${source}): storage ${key} is listed but never used`);
    if (p + 8 > bytes.length) throw new Error(`readTorchStateDict(${source}): truncated before storage ${key}`);
    const count = view.getBigInt64(p, true);
    if (count !== BigInt(s.numel))
      throw new Error(`readTorchStateDict(${source}): storage ${key} holds ${count} elements, the pickle says ${s.numel}`);
    const len = s.numel * s.type.bytes;
    if (p + 8 + len > bytes.length)
      throw new Error(`readTorchStateDict(${source}): storage ${key} (${len} bytes) runs past the end of the file`);
    blobs.set(key, bytes.subarray(p + 8, p + 8 + len));
    p += 8 + len;
  }
  for (const s of pending)
    if (!blobs.has(s.key)) throw new Error(`readTorchStateDict(${source}): storage ${s.key} is used but not in the key list`);
  return stateDict(value, source);
}
