// numpy's .npy format (versions 1–3): magic, a Python-dict header (descr, fortran_order,
// shape), raw data. Numeric and fixed-width string arrays only: object arrays would need
// pickle and are refused. Every malformed file is an Error naming the source and field.

export interface NpyArray {
  /** numpy dtype string as stored, e.g. "<f4", "<i8", "|S3", "<U3" */
  descr: string;
  shape: number[];
  /** numeric arrays: every element as a double (integers beyond 2^53 are refused) */
  values?: Float64Array;
  /** string arrays ("S"/"U"): the elements, trailing NULs removed */
  strings?: string[];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const MAX_ELEMENTS = 2 ** 31;

/** A tokenizer for the one-line header dict numpy writes; nothing is evaluated. */
function parseHeader(text: string, fail: (m: string) => never): { descr: string; fortran: boolean; shape: number[] } {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const expect = (c: string) => {
    ws();
    if (text[i] !== c) fail(`header: expected '${c}' at character ${i} of ${JSON.stringify(text)}`);
    i++;
  };
  const str = (): string => {
    ws();
    const q = text[i];
    if (q !== "'" && q !== '"') fail(`header: expected a string at character ${i}`);
    const end = text.indexOf(q, i + 1);
    if (end < 0) fail("header: unterminated string");
    const s = text.slice(i + 1, end);
    i = end + 1;
    return s;
  };
  const value = (): string | boolean | number[] => {
    ws();
    if (text[i] === "'" || text[i] === '"') return str();
    if (text.startsWith("True", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("False", i)) {
      i += 5;
      return false;
    }
    if (text[i] === "(") {
      i++;
      const dims: number[] = [];
      for (;;) {
        ws();
        if (text[i] === ")") break;
        const m = /^\d+/.exec(text.slice(i, i + 20));
        if (!m) fail(`header: shape entry at character ${i} is not a non-negative integer`);
        dims.push(Number(m![0]));
        i += m![0].length;
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== ")") fail(`header: expected ',' or ')' in shape at character ${i}`);
      }
      i++;
      return dims;
    }
    return fail(`header: unsupported value at character ${i}`);
  };
  const out: Record<string, string | boolean | number[]> = {};
  expect("{");
  for (;;) {
    ws();
    if (text[i] === "}") break;
    const k = str();
    expect(":");
    if (k in out) fail(`header: key '${k}' appears twice`);
    out[k] = value();
    ws();
    if (text[i] === ",") i++;
    else if (text[i] !== "}") fail(`header: expected ',' or '}' at character ${i}`);
  }
  const { descr, fortran_order: fortran, shape } = out;
  if (typeof descr !== "string") fail(`header: 'descr' missing or not a string (${JSON.stringify(out.descr)})`);
  if (typeof fortran !== "boolean") fail("header: 'fortran_order' missing or not True/False");
  if (!Array.isArray(shape)) fail("header: 'shape' missing or not a tuple");
  return { descr: descr as string, fortran: fortran as boolean, shape: shape as number[] };
}

/** Parses one .npy file held in memory. */
export function readNpy(bytes: Uint8Array, source = "<buffer>"): NpyArray {
  const fail = (msg: string): never => {
    throw new Error(`npy(${source}): ${msg}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) fail("not a .npy file (bad magic)");
  const major = bytes[6];
  if (major < 1 || major > 3) fail(`unsupported format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) fail("truncated before the header length");
  const hLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes + hLen;
  if (start > bytes.length) fail(`header length ${hLen} runs past the ${bytes.length}-byte file`);
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(8 + lenBytes, start));
  const { descr, fortran, shape } = parseHeader(text, fail);
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count) || count > MAX_ELEMENTS) fail(`shape [${shape.join(", ")}] has too many elements`);
  if (fortran && shape.filter((d) => d > 1).length > 1)
    fail("Fortran-ordered arrays with more than one non-trivial dimension are not supported");
  const m = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr);
  if (!m)
    fail(`dtype ${JSON.stringify(descr)} is not supported (object or structured arrays need pickle; only numbers and strings are read)`);
  const [, order, kind, sizeText] = m!;
  const size = Number(sizeText);
  if (order === ">" && size > 1) fail(`dtype ${descr} is big-endian; only little-endian data is read`);
  const need = count * (kind === "U" ? 4 * size : size);
  if (bytes.length - start < need) fail(`data is ${bytes.length - start} bytes, shape [${shape.join(", ")}] of ${descr} needs ${need}`);
  const at = bytes.byteOffset + start;
  const dv = new DataView(bytes.buffer, at, need);
  if (kind === "S" || kind === "U") {
    const strings: string[] = [];
    for (let e = 0; e < count; e++) {
      let s = "";
      if (kind === "S") s = new TextDecoder("latin1").decode(bytes.subarray(start + e * size, start + (e + 1) * size));
      else for (let c = 0; c < size; c++) s += String.fromCodePoint(dv.getUint32((e * size + c) * 4, true) || 0);
      strings.push(s.replace(/\0+$/, ""));
    }
    return { descr, shape, strings };
  }
  const values = new Float64Array(count);
  const read: Record<string, ((o: number) => number) | undefined> = {
    f4: (o) => dv.getFloat32(o, true),
    f8: (o) => dv.getFloat64(o, true),
    i1: (o) => dv.getInt8(o),
    i2: (o) => dv.getInt16(o, true),
    i4: (o) => dv.getInt32(o, true),
    u1: (o) => dv.getUint8(o),
    u2: (o) => dv.getUint16(o, true),
    u4: (o) => dv.getUint32(o, true),
    b1: (o) => (dv.getUint8(o) ? 1 : 0),
    i8: (o) => {
      const v = dv.getBigInt64(o, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) fail(`element ${o / 8} (${v}) exceeds 2^53`);
      return Number(v);
    },
    u8: (o) => {
      const v = dv.getBigUint64(o, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`element ${o / 8} (${v}) exceeds 2^53`);
      return Number(v);
    },
  };
  const get = read[`${kind}${size}`];
  if (!get) fail(`dtype ${descr} is not supported (supported: f4, f8, i1–i8, u1–u8, b1, S, U)`);
  for (let e = 0; e < count; e++) values[e] = get!(e * size);
  return { descr, shape, values };
}
