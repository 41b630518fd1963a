// The safetensors format: 8-byte LE header length, JSON header, raw little-endian tensor data.
import * as fs from "node:fs";
import * as path from "node:path";
import { bf16ToF32, f16ToF32 } from "./half";

export type SafetensorsDtype = "F32" | "F16" | "BF16" | "F64" | "I32";

/** A tensor as read: floating dtypes are widened/narrowed to Float32Array, I32 is an Int32Array. */
export interface SafeTensor {
  dtype: SafetensorsDtype; // dtype stored in the file
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** What writeSafetensors accepts: Float32Array is stored as F32, Int32Array as I32. */
export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array | Int32Array;
}

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4 };
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reads a safetensors file (path) or buffer; every malformed input is an Error naming the source and tensor. */
export function readSafetensors(input: Uint8Array | string, sourceName?: string): SafetensorsFile {
  let bytes: Uint8Array;
  const src = sourceName ?? (typeof input === "string" ? input : "<buffer>");
  if (typeof input === "string") {
    try {
      bytes = fs.readFileSync(input);
    } catch (e) {
      throw new Error(`readSafetensors: cannot read ${input}: ${(e as Error).message}`);
    }
  } else {
    bytes = input;
  }
  const fail = (msg: string): never => {
    throw new Error(`readSafetensors(${src}): ${msg}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (headerLen > BigInt(bytes.length - 8)) fail(`header length ${headerLen} exceeds the ${bytes.length - 8} bytes after the length field`);
  const hLen = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + hLen)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) fail("header is not a JSON object");
  const dataStart = 8 + hLen;
  const dataLen = bytes.length - dataStart;

  const metadata: Record<string, string> = {};
  const ranges: Array<{ name: string; start: number; end: number }> = [];
  const entries: Array<{ name: string; dtype: SafetensorsDtype; shape: number[]; start: number; end: number }> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (entry === null || typeof entry !== "object" || Array.isArray(entry)) fail("__metadata__ is not an object");
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__ value for ${JSON.stringify(k)} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const bad = (msg: string): never => fail(`tensor ${JSON.stringify(name)}: ${msg}`);
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) bad("entry is not an object");
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, dtype))
      bad(`unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(", ")})`);
    if (!Array.isArray(shape)) bad(`shape ${JSON.stringify(shape)} is not an array`);
    const dims = shape as unknown[];
    if (dims.length > 64) bad(`shape has ${dims.length} dimensions`);
    let count = 1;
    for (const d of dims) {
      if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0)
        bad(`shape ${JSON.stringify(shape)} has an invalid dimension ${JSON.stringify(d)}`);
      count *= d as number;
      if (count > dataLen) {
        // already too big for the file: say how big, instead of a clamped product
        const total = dims.reduce((a: number, x) => a * (typeof x === "number" ? x : 1), 1);
        bad(`shape ${JSON.stringify(shape)} has ${total.toPrecision(4)} elements, more than the ${dataLen}-byte data area can hold`);
      }
    }
    if (!Array.isArray(offsets) || offsets.length !== 2) bad(`data_offsets ${JSON.stringify(offsets)} is not [start, end]`);
    const [start, end] = offsets as unknown[];
    for (const o of [start, end]) {
      if (typeof o !== "number" || !Number.isSafeInteger(o) || o < 0) bad(`data_offsets ${JSON.stringify(offsets)} has an invalid offset`);
    }
    const s = start as number;
    const e = end as number;
    if (e < s) bad(`data_offsets end ${e} < start ${s}`);
    if (e > dataLen) bad(`data_offsets [${s}, ${e}] outside the ${dataLen}-byte data area`);
    const want = count * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (e - s !== want) bad(`byte size ${e - s} != ${want} for shape ${JSON.stringify(shape)} of ${dtype}`);
    ranges.push({ name, start: s, end: e });
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: dims as number[], start: s, end: e });
  }
  ranges.sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1];
    const cur = ranges[i];
    if (cur.start < prev.end && cur.end > cur.start) {
      fail(
        `tensors ${JSON.stringify(prev.name)} [${prev.start}, ${prev.end}] and ${JSON.stringify(cur.name)} [${cur.start}, ${cur.end}] overlap`,
      );
    }
  }

  const tensors = new Map<string, SafeTensor>();
  for (const t of entries) {
    const off = dataStart + t.start;
    const n = (t.end - t.start) / DTYPE_BYTES[t.dtype];
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data: decodeData(bytes, off, n, t.dtype) });
  }
  return { tensors, metadata };
}

function decodeData(bytes: Uint8Array, off: number, n: number, dtype: SafetensorsDtype): Float32Array | Int32Array {
  switch (dtype) {
    case "F32":
    case "I32": {
      const out = dtype === "F32" ? new Float32Array(n) : new Int32Array(n);
      if (LITTLE_ENDIAN_HOST) {
        new Uint8Array(out.buffer).set(bytes.subarray(off, off + 4 * n));
      } else {
        const v = new DataView(bytes.buffer, bytes.byteOffset + off, 4 * n);
        for (let i = 0; i < n; i++) out[i] = dtype === "F32" ? v.getFloat32(4 * i, true) : v.getInt32(4 * i, true);
      }
      return out;
    }
    case "F64": {
      const out = new Float32Array(n);
      const v = new DataView(bytes.buffer, bytes.byteOffset + off, 8 * n);
      for (let i = 0; i < n; i++) out[i] = v.getFloat64(8 * i, true);
      return out;
    }
    case "F16": {
      const out = new Float32Array(n);
      f16ToF32(bytes, off, out);
      return out;
    }
    case "BF16": {
      const out = new Float32Array(n);
      bf16ToF32(bytes, off, out);
      return out;
    }
  }
}

type TensorSource = Map<string, TensorToWrite> | Record<string, TensorToWrite>;

/** Header + data layout for a set of tensors (sorted by name), validated. */
function layout(tensors: TensorSource, metadata: Record<string, string> | undefined, fn: string) {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
  );
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new Error(`${fn}: metadata value for ${JSON.stringify(k)} is not a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === "" || name === "__metadata__") throw new Error(`${fn}: invalid tensor name ${JSON.stringify(name)}`);
    const isF32 = t.data instanceof Float32Array;
    if (!isF32 && !(t.data instanceof Int32Array))
      throw new Error(`${fn}: tensor ${JSON.stringify(name)} data must be a Float32Array or Int32Array`);
    let count = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0)
        throw new Error(`${fn}: tensor ${JSON.stringify(name)} has invalid shape ${JSON.stringify(t.shape)}`);
      count *= d;
    }
    if (count !== t.data.length) {
      throw new Error(
        `${fn}: tensor ${JSON.stringify(name)} has ${t.data.length} values but shape ${JSON.stringify(t.shape)} needs ${count}`,
      );
    }
    header[name] = { dtype: isF32 ? "F32" : "I32", shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, "utf8");
  json += " ".repeat((8 - ((8 + jsonBytes) % 8)) % 8); // data area starts 8-byte aligned
  const headerBytes = Buffer.from(json, "utf8");
  const prefix = Buffer.alloc(8 + headerBytes.length);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(prefix, 8);
  return { prefix, entries, dataBytes: offset };
}

function leBytes(data: Float32Array | Int32Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const v = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) v.setFloat32(4 * i, data[i], true);
    else v.setInt32(4 * i, data[i], true);
  }
  return out;
}

/** The bytes of a safetensors file holding these tensors. */
export function serializeSafetensors(tensors: TensorSource, metadata?: Record<string, string>): Uint8Array {
  const { prefix, entries, dataBytes } = layout(tensors, metadata, "serializeSafetensors");
  const out = new Uint8Array(prefix.length + dataBytes);
  out.set(prefix, 0);
  let off = prefix.length;
  for (const [, t] of entries) {
    out.set(leBytes(t.data), off);
    off += t.data.byteLength;
  }
  return out;
}

/** Writes a safetensors file atomically (temp file in the same folder, then rename). */
export function writeSafetensors(file: string, tensors: TensorSource, metadata?: Record<string, string>): void {
  const { prefix, entries } = layout(tensors, metadata, `writeSafetensors(${file})`);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "w");
    fs.writeSync(fd, prefix);
    for (const [, t] of entries) {
      const b = leBytes(t.data);
      let written = 0;
      while (written < b.length) written += fs.writeSync(fd, b, written, b.length - written);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw new Error(`writeSafetensors(${file}): ${(e as Error).message}`);
  }
}

/** The Float32Array of a floating tensor; an Error naming it when it holds integers. */
export function floatData(t: SafeTensor, name: string): Float32Array {
  if (!(t.data instanceof Float32Array))
    throw new Error(`safetensors: tensor ${JSON.stringify(name)} is ${t.dtype}, expected a floating dtype`);
  return t.data;
}
