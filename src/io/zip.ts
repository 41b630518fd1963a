// A small, strict zip reader (stored and deflated entries, zip64 sizes): enough for numpy's
// .npz and PyTorch's pytorch_model.bin. Every malformed archive is an Error naming the
// source and the entry; nothing is extracted to disk.
import * as zlib from "node:zlib";

export interface ZipEntry {
  name: string;
  method: number; // 0 stored, 8 deflate
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

export interface ZipArchive {
  source: string;
  entries: Map<string, ZipEntry>;
  /** The entry's uncompressed bytes (a view into the archive when stored), CRC-checked. */
  read(name: string): Uint8Array;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const MAX_ENTRIES = 1_000_000;

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE), as zip stores it. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Parses the central directory of a zip held in memory. */
export function openZip(bytes: Uint8Array, source = "<buffer>"): ZipArchive {
  const fail = (msg: string): never => {
    throw new Error(`zip(${source}): ${msg}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  const u16 = (o: number) => (o + 2 <= n ? view.getUint16(o, true) : fail(`truncated at byte ${o}`));
  const u32 = (o: number) => (o + 4 <= n ? view.getUint32(o, true) : fail(`truncated at byte ${o}`));
  const u64 = (o: number, what: string) => {
    if (o + 8 > n) fail(`truncated at byte ${o}`);
    const v = view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${v} is too large`);
    return Number(v);
  };

  // the end-of-central-directory record: last 22 bytes plus up to a 64 KiB comment
  let eocd = -1;
  for (let o = n - 22; o >= Math.max(0, n - 22 - 0xffff); o--) {
    if (view.getUint32(o, true) === EOCD_SIG && o + 22 + view.getUint16(o + 20, true) === n) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0)
    fail(
      n < 22 ? `file is ${n} bytes, too short for a zip archive` : "no end-of-central-directory record (not a zip archive, or truncated)",
    );
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail("multi-disk archives are not supported");
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // zip64: the locator sits right before the classic record
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== EOCD64_LOCATOR_SIG) fail("zip64 sizes without a zip64 end-of-central-directory locator");
    const rec = u64(loc + 8, "zip64 record offset");
    if (rec + 56 > n || u32(rec) !== EOCD64_SIG) fail(`no zip64 end-of-central-directory record at byte ${rec}`);
    count = u64(rec + 32, "entry count");
    cdSize = u64(rec + 40, "central directory size");
    cdOffset = u64(rec + 48, "central directory offset");
  }
  if (count > MAX_ENTRIES) fail(`${count} entries exceed the limit of ${MAX_ENTRIES}`);
  if (cdOffset + cdSize > n) fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) lies outside the ${n}-byte file`);

  const entries = new Map<string, ZipEntry>();
  const utf8 = new TextDecoder("utf-8", { fatal: false });
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdOffset + cdSize || u32(p) !== CENTRAL_SIG) fail(`central directory entry ${i} at byte ${p} is malformed`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const crc = u32(p + 16);
    let compressedSize = u32(p + 20);
    let size = u32(p + 24);
    const nameLen = u16(p + 28),
      extraLen = u16(p + 30),
      commentLen = u16(p + 32);
    let localHeaderOffset = u32(p + 42);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdOffset + cdSize) fail(`central directory entry ${i} runs past the directory`);
    const name = utf8.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    if (flags & 1) fail(`entry ${JSON.stringify(name)} is encrypted`);
    // zip64 extended information: the 0xffffffff fields follow in this order
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = u16(e),
        len = u16(e + 2);
      if (e + 4 + len > extraEnd) fail(`entry ${JSON.stringify(name)}: extra field runs past its header`);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (what: string) => {
          if (q + 8 > e + 4 + len) fail(`entry ${JSON.stringify(name)}: zip64 field lacks ${what}`);
          const v = u64(q, what);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take("size");
        if (compressedSize === 0xffffffff) compressedSize = take("compressed size");
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take("local header offset");
      }
      e += 4 + len;
    }
    if (method !== 0 && method !== 8)
      fail(`entry ${JSON.stringify(name)} uses compression method ${method} (only stored and deflate are supported)`);
    if (method === 0 && compressedSize !== size)
      fail(`stored entry ${JSON.stringify(name)} has compressed size ${compressedSize} but size ${size}`);
    if (entries.has(name)) fail(`entry ${JSON.stringify(name)} appears twice`);
    entries.set(name, { name, method, compressedSize, size, crc32: crc, localHeaderOffset });
    p = end;
  }

  const read = (name: string): Uint8Array => {
    const en = entries.get(name);
    if (!en) return fail(`no entry ${JSON.stringify(name)}`);
    const o = en.localHeaderOffset;
    if (o + 30 > n || u32(o) !== LOCAL_SIG) fail(`entry ${JSON.stringify(name)}: no local header at byte ${o}`);
    const start = o + 30 + u16(o + 26) + u16(o + 28);
    if (start + en.compressedSize > n)
      fail(`entry ${JSON.stringify(name)}: data [${start}, ${start + en.compressedSize}) runs past the ${n}-byte file`);
    const raw = bytes.subarray(start, start + en.compressedSize);
    let out: Uint8Array;
    if (en.method === 0) out = raw;
    else {
      try {
        // maxOutputLength bounds a deflate bomb by the size the directory promised
        out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, en.size) });
      } catch (err) {
        return fail(`entry ${JSON.stringify(name)}: cannot inflate: ${(err as Error).message}`);
      }
    }
    if (out.length !== en.size) fail(`entry ${JSON.stringify(name)} inflates to ${out.length} bytes, the directory says ${en.size}`);
    const c = crc32(out);
    if (c !== en.crc32) fail(`entry ${JSON.stringify(name)}: CRC-32 ${c.toString(16)} does not match the stored ${en.crc32.toString(16)}`);
    return out;
  };
  return { source, entries, read };
}
