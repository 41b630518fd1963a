// Truncated and randomly mutated files either parse to consistent tensors or throw an Error.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { readSafetensors, serializeSafetensors } from "../../src/io/safetensors";
import { buildFile, u16le } from "./safetensors_build";
import { mulberry32 } from "../../src/io/prng";

/** Uniform [0, 1) draws from the project's mulberry32 stream. */
function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

function seeds(): Uint8Array[] {
  const a = serializeSafetensors(
    {
      "h.0.w": { shape: [3, 4], data: new Float32Array(12).map((_, i) => i / 7) },
      "h.0.b": { shape: [4], data: new Float32Array([1, 2, 3, 4]) },
      ids: { shape: [2], data: new Int32Array([5, -6]) },
      s: { shape: [], data: new Float32Array([1.5]) },
    },
    { format: "pt" },
  );
  const half = buildFile(
    {
      x: { dtype: "F16", shape: [2, 2], data_offsets: [0, 8] },
      y: { dtype: "BF16", shape: [3], data_offsets: [8, 14] },
      z: { dtype: "F64", shape: [1], data_offsets: [14, 22] },
    },
    new Uint8Array([...u16le([0x3c00, 0xc000, 0x7bff, 1, 0x3f80, 0x4049, 0x8000]), 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]),
  );
  return [a, half];
}

const NASTY = ["-1", "1e308", "1.5", "9007199254740993", '"7"', "null", "[]", "{}", "[0,0]", "0", "4294967296", "-0"];

function mutate(base: Uint8Array, rnd: () => number): Uint8Array {
  const headerLen = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
  const kind = Math.floor(rnd() * 5);
  if (kind === 0) return base.slice(0, Math.floor(rnd() * base.length)); // truncation
  if (kind === 1) {
    const out = base.slice();
    const flips = 1 + Math.floor(rnd() * 8);
    for (let k = 0; k < flips; k++) out[Math.floor(rnd() * out.length)] = Math.floor(rnd() * 256);
    return out;
  }
  if (kind === 2) {
    const out = base.slice();
    const v = new DataView(out.buffer);
    const choices = [
      0n,
      1n,
      BigInt(headerLen - 1),
      BigInt(headerLen + 1),
      BigInt(out.length),
      2n ** 64n - 1n,
      BigInt(Math.floor(rnd() * 2 ** 32)),
    ];
    v.setBigUint64(0, choices[Math.floor(rnd() * choices.length)], true);
    return out;
  }
  // Header-text surgery: replace a number or token in the JSON, keep the length field right.
  const text = Buffer.from(base.subarray(8, 8 + headerLen)).toString("utf8");
  const data = base.subarray(8 + headerLen);
  const spots = [...text.matchAll(kind === 3 ? /\d+/g : /"(F32|I32|F16|BF16|F64|shape|dtype|data_offsets)"/g)];
  if (spots.length === 0) return base;
  const m = spots[Math.floor(rnd() * spots.length)];
  const repl = kind === 3 ? NASTY[Math.floor(rnd() * NASTY.length)] : ['"U8"', '"f32"', '"shapes"', '""', "1"][Math.floor(rnd() * 5)];
  const mutated = text.slice(0, m.index!) + repl + text.slice(m.index! + m[0].length);
  const trimData = rnd() < 0.3 ? data.subarray(0, Math.floor(rnd() * data.length)) : data;
  return buildFile(null, trimData, mutated);
}

test("fuzz: 4000 truncated/mutated files never crash, hang or return inconsistent tensors", () => {
  const rnd = prng(20240531);
  const bases = seeds();
  for (const b of bases) assert.ok(readSafetensors(b).tensors.size >= 3); // the seeds themselves are valid
  let parsed = 0;
  let rejected = 0;
  const t0 = Date.now();
  for (let c = 0; c < 4000; c++) {
    const bytes = mutate(bases[c % bases.length], rnd);
    let result: ReturnType<typeof readSafetensors> | undefined;
    try {
      result = readSafetensors(bytes, `fuzz-${c}`);
    } catch (e) {
      assert.ok(e instanceof Error, `case ${c} threw a non-Error: ${String(e)}`);
      assert.match(e.message, new RegExp(`readSafetensors\\(fuzz-${c}\\)`));
      rejected++;
      continue;
    }
    parsed++;
    for (const [name, t] of result.tensors) {
      const count = t.shape.reduce((a, d) => a * d, 1);
      assert.equal(t.data.length, count, `case ${c} tensor ${name}`);
      assert.equal(t.data instanceof Int32Array, t.dtype === "I32", `case ${c} tensor ${name} dtype ${t.dtype}`);
    }
  }
  assert.ok(parsed > 100 && rejected > 1000, `parsed ${parsed}, rejected ${rejected}`);
  assert.ok(Date.now() - t0 < 10_000, "fuzz took over 10 s");
});
