import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readSafetensors, serializeSafetensors, writeSafetensors, floatData } from "../../src/io/safetensors";
import { buildFile, f32le, u16le } from "./safetensors_build";

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "st-"));

test("writer emits exactly the documented layout", () => {
  const bytes = serializeSafetensors({ b: { shape: [1], data: new Int32Array([-1]) }, a: { shape: [2], data: new Float32Array([1, -2]) } });
  const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}';
  const padded = json + " ".repeat((8 - ((8 + json.length) % 8)) % 8);
  const expected = buildFile(null, new Uint8Array([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0xff, 0xff, 0xff, 0xff]), padded);
  assert.deepEqual([...bytes], [...expected]);
  assert.equal((8 + padded.length) % 8, 0);
});

test("round-trip through a file: values, shapes, dtypes, metadata, sorted names", () => {
  const dir = tmpDir();
  const file = path.join(dir, "x.safetensors");
  let s = 7;
  const rnd = () => {
    s = (Math.imul(s, 48271) % 2147483647) >>> 0;
    return (s / 2147483647) * 2 - 1;
  };
  const big = new Float32Array(3 * 5 * 7).map(rnd);
  const tensors = new Map([
    ["zeta", { shape: [3, 5, 7], data: big }],
    ["alpha.scalar", { shape: [], data: new Float32Array([Math.PI]) }],
    ["empty", { shape: [0, 4], data: new Float32Array(0) }],
    ["ids", { shape: [2, 2], data: new Int32Array([0, -5, 2147483647, -2147483648]) }],
    ["special", { shape: [4], data: new Float32Array([Infinity, -Infinity, NaN, -0]) }],
  ]);
  writeSafetensors(file, tensors, { format: "pt", note: "ünï" });
  const raw = fs.readFileSync(file);
  const headerLen = Number(raw.readBigUInt64LE(0));
  assert.equal((8 + headerLen) % 8, 0);
  const header = JSON.parse(raw.subarray(8, 8 + headerLen).toString("utf8"));
  assert.deepEqual(Object.keys(header), ["__metadata__", "alpha.scalar", "empty", "ids", "special", "zeta"]);
  const back = readSafetensors(file);
  assert.deepEqual(back.metadata, { format: "pt", note: "ünï" });
  assert.equal(back.tensors.size, 5);
  for (const [name, t] of tensors) {
    const r = back.tensors.get(name)!;
    assert.deepEqual(r.shape, t.shape, name);
    assert.equal(r.data.constructor, t.data.constructor, name);
    assert.deepEqual([...r.data], [...t.data], name);
  }
  assert.ok(Object.is(back.tensors.get("special")!.data[3], -0));
  assert.throws(() => floatData(back.tensors.get("ids")!, "ids"), /"ids" is I32/);
  assert.deepEqual(fs.readdirSync(dir), ["x.safetensors"]); // no temp file left behind
  fs.rmSync(dir, { recursive: true });
});

test("writer rejects inconsistent tensors and leaves no file", () => {
  const dir = tmpDir();
  const file = path.join(dir, "bad.safetensors");
  assert.throws(
    () => writeSafetensors(file, { w: { shape: [2, 3], data: new Float32Array(5) } }),
    /writeSafetensors\(.*bad\.safetensors\).*"w" has 5 values but shape \[2,3\] needs 6/,
  );
  assert.throws(() => writeSafetensors(file, { w: { shape: [-1], data: new Float32Array(0) } }), /"w" has invalid shape/);
  assert.throws(
    () => writeSafetensors(path.join(dir, "no", "such", "dir.st"), { w: { shape: [1], data: new Float32Array(1) } }),
    /writeSafetensors/,
  );
  assert.deepEqual(fs.readdirSync(dir), []);
  fs.rmSync(dir, { recursive: true });
});

test("F16 and BF16 are converted to float32 (hand-computed values)", () => {
  const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x03ff, 0x3555, 0x8000, 0x7c00, 0xfc00, 0x7e00];
  const f16Want = [1, -2, 65504, 2 ** -24, 2 ** -14, 1023 * 2 ** -24, 0.333251953125, -0, Infinity, -Infinity, NaN];
  const bf16 = [0x3f80, 0xc040, 0x4049, 0x3e80, 0x7f80, 0x0001, 0x8000];
  const bf16Want = [1, -3, 3.140625, 0.25, Infinity, 2 ** -133, -0];
  const data = new Uint8Array([...u16le(f16), ...u16le(bf16)]);
  const file = buildFile(
    {
      h: { dtype: "F16", shape: [f16.length], data_offsets: [0, 2 * f16.length] },
      b: { dtype: "BF16", shape: [bf16.length], data_offsets: [2 * f16.length, data.length] },
    },
    data,
  );
  const r = readSafetensors(file);
  const h = r.tensors.get("h")!;
  assert.equal(h.dtype, "F16");
  assert.ok(h.data instanceof Float32Array);
  f16Want.forEach((w, i) => {
    assert.ok(Object.is(h.data[i], w), `f16 0x${f16[i].toString(16)} -> ${h.data[i]}, want ${w}`);
  });
  const b = r.tensors.get("b")!;
  bf16Want.forEach((w, i) => {
    assert.ok(Object.is(b.data[i], w), `bf16 0x${bf16[i].toString(16)} -> ${b.data[i]}, want ${w}`);
  });
});

test("F64 is read and narrowed to float32; unaligned data offsets work", () => {
  const d = new Uint8Array(3 + 16);
  new DataView(d.buffer).setFloat64(3, 0.1, true);
  new DataView(d.buffer).setFloat64(11, -1e300, true);
  const file = buildFile(
    { pad: { dtype: "F16", shape: [], data_offsets: [0, 2] }, x: { dtype: "F64", shape: [2], data_offsets: [3, 19] } },
    d,
  );
  // Gap of one byte between tensors is allowed; x starts at an odd offset.
  const x = readSafetensors(file).tensors.get("x")!;
  assert.deepEqual([...x.data], [Math.fround(0.1), -Infinity]);
});

function expectError(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => readSafetensors(bytes, "case.safetensors"),
    (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /readSafetensors\(case\.safetensors\)/);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test("malformed files are clear Errors naming the file and tensor", () => {
  const ok = { w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const data = f32le([1, 2]);
  expectError(new Uint8Array(5), /shorter than the 8-byte/);
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  expectError(huge, /header length .* exceeds the 104857600-byte limit/);
  const long = new Uint8Array(16);
  new DataView(long.buffer).setBigUint64(0, 9n, true);
  expectError(long, /header length 9 exceeds the 8 bytes/);
  expectError(buildFile(null, data, '{"w": '), /not valid UTF-8 JSON/);
  expectError(buildFile(null, data, "[1,2]"), /not a JSON object/);
  expectError(buildFile(null, new Uint8Array(0), '{"a":{"dtype":"F32","shape":[],"data_offsets":[0,0]}}'), /byte size 0 != 4/);
  const badUtf8 = buildFile(null, new Uint8Array(0), "{}  ");
  badUtf8[9] = 0xff;
  expectError(badUtf8, /not valid UTF-8 JSON/);
  expectError(buildFile({ w: 3 }, data), /tensor "w": entry is not an object/);
  expectError(buildFile({ w: { ...ok.w, dtype: "Q8" } }, data), /tensor "w": unsupported dtype "Q8"/);
  expectError(buildFile({ w: { ...ok.w, shape: [-2] } }, data), /tensor "w": shape \[-2\] has an invalid dimension -2/);
  expectError(buildFile({ w: { ...ok.w, shape: [1.5] } }, data), /invalid dimension 1\.5/);
  expectError(buildFile(null, data, '{"w":{"dtype":"F32","shape":[1e999],"data_offsets":[0,8]}}'), /invalid dimension null/);
  expectError(buildFile({ w: { ...ok.w, shape: "2" } }, data), /shape "2" is not an array/);
  expectError(buildFile({ w: { ...ok.w, data_offsets: [0] } }, data), /data_offsets \[0\] is not \[start, end\]/);
  expectError(buildFile({ w: { ...ok.w, data_offsets: [0, 16] } }, data), /data_offsets \[0, 16\] outside the 8-byte data area/);
  expectError(buildFile({ w: { ...ok.w, data_offsets: [8, 0] } }, data), /end 0 < start 8/);
  expectError(buildFile({ w: { ...ok.w, data_offsets: [-8, 0] } }, data), /invalid offset/);
  expectError(buildFile({ w: { ...ok.w, shape: [3] } }, data), /tensor "w": byte size 8 != 12 for shape \[3\] of F32/);
  expectError(
    buildFile({ w: { ...ok.w, shape: [2 ** 40, 2 ** 40] } }, data),
    /tensor "w": shape \[1099511627776,1099511627776\] has 1\.209e\+24 elements, more than the 8-byte data area/,
  );
  expectError(
    buildFile({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, data),
    /tensors "a" \[0, 8\] and "b" \[4, 8\] overlap/,
  );
  expectError(buildFile({ __metadata__: { a: 1 }, ...ok }, data), /__metadata__ value for "a" is not a string/);
  assert.throws(() => readSafetensors("/nonexistent/x.safetensors"), /readSafetensors: cannot read \/nonexistent\/x\.safetensors/);
});
