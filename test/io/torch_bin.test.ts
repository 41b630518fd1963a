// pytorch_model.bin through the restricted unpickler: fixtures written by CPython's own
// pickler in torch.save's layout (test/fixtures/make_authors_formats.py), zip and legacy.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readTorchStateDict } from "../../src/io/torch_bin";
import { loadGpt2Folder } from "../../src/io/gpt2_folder";
import { unpickle, PyGlobal } from "../../src/io/pickle";

const FIX = path.resolve(__dirname, "..", "..", "..", "test", "fixtures");
const expected = JSON.parse(fs.readFileSync(path.join(FIX, "torch", "small.expected.json"), "utf8")) as Record<
  string,
  { shape: number[]; values: number[] }
>;

for (const kind of ["zip", "legacy"]) {
  test(`readTorchStateDict (${kind} format): every dtype, strided and offset views, 0-d, empty, nn.Parameter`, () => {
    const sd = readTorchStateDict(path.join(FIX, "torch", `small.${kind}.bin`));
    assert.deepEqual([...sd.keys()], Object.keys(expected));
    for (const [name, want] of Object.entries(expected)) {
      const t = sd.get(name)!;
      assert.deepEqual(t.shape, want.shape, `${name} shape`);
      assert.deepEqual(Array.from(t.data), want.values, `${name} values`);
    }
    assert.equal(sd.get("half")!.dtype, "F16");
    assert.equal(sd.get("double")!.dtype, "F64");
    assert.ok(sd.get("long")!.data instanceof Int32Array);
  });
}

test("a GPT-2 folder with only pytorch_model.bin loads the same weights as its model.safetensors twin", () => {
  const fromBin = loadGpt2Folder(path.join(FIX, "torch", "gpt2_golden"));
  const fromSafe = loadGpt2Folder(path.join(FIX, "gpt2_golden"));
  assert.deepEqual(fromBin.config, fromSafe.config);
  assert.equal(fromBin.weights.size, fromSafe.weights.size);
  for (const [name, w] of fromSafe.weights) {
    const b = fromBin.weights.get(name);
    assert.ok(b, `${name} missing`);
    assert.deepEqual(b!.shape, w.shape);
    assert.ok(
      Buffer.from(b!.data.buffer, b!.data.byteOffset, b!.data.byteLength).equals(
        Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength),
      ),
      `${name} differs`,
    );
  }
});

// Hand-made pickles (protocol 2), byte by byte:
//   80 02                      PROTO 2
//   63 "os\nsystem\n"          GLOBAL os.system
//   58 <len 4> "echo pwned"    BINUNICODE
//   85 52 2e                   TUPLE1 REDUCE STOP
const evil = Buffer.concat([
  Buffer.from([0x80, 0x02, 0x63]),
  Buffer.from("os\nsystem\n"),
  Buffer.from([0x58, 10, 0, 0, 0]),
  Buffer.from("echo pwned"),
  Buffer.from([0x85, 0x52, 0x2e]),
]);

test("the unpickler refuses globals off the allow-list and opcodes that build arbitrary objects", () => {
  assert.throws(
    () => unpickle(evil, { source: "evil.pkl" }),
    /unpickle\(evil\.pkl\): global os\.system is not allowed \(allowed: none\) \(opcode at byte 2\)/,
  );
  // an allowed name that is not callable cannot be REDUCEd
  const g = { "torch.FloatStorage": new PyGlobal("torch.FloatStorage") };
  const call = Buffer.concat([Buffer.from([0x80, 0x02, 0x63]), Buffer.from("torch\nFloatStorage\n"), Buffer.from([0x29, 0x52, 0x2e])]);
  assert.throws(() => unpickle(call, { globals: g }), /REDUCE on torch\.FloatStorage, which is not an allowed callable/);
  // NEWOBJ (0x81), INST ('i'), OBJ ('o'), EXT1 (0x82): never allowed
  for (const op of [0x81, 0x69, 0x6f, 0x82])
    assert.throws(() => unpickle(Buffer.from([0x80, 0x02, op, 0x2e])), /opcode 0x.. .* is not allowed/);
  // plain data decodes: {"a": [1, -2, 3.5, None, True], "b": (b"\x01",)}  (protocol 2)
  const data = Buffer.from([
    0x80, 0x02, 0x7d, 0x28, 0x58, 1, 0, 0, 0, 0x61, 0x5d, 0x28, 0x4b, 1, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x47, 0x40, 0x0c, 0, 0, 0, 0, 0, 0,
    0x4e, 0x88, 0x65, 0x58, 1, 0, 0, 0, 0x62, 0x43, 1, 1, 0x85, 0x75, 0x2e,
  ]);
  const v = unpickle(data).value as Map<string, unknown>;
  assert.deepEqual(v.get("a"), [1, -2, 3.5, null, true]);
  assert.deepEqual(v.get("b"), [new Uint8Array([1])]);
});

test("bad pytorch_model.bin files are clear errors naming the file", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torch-bin-"));
  const f = path.join(dir, "pytorch_model.bin");
  fs.writeFileSync(f, "x");
  assert.throws(
    () => readTorchStateDict(f),
    /readTorchStateDict\(.*pytorch_model\.bin\): neither a zip archive nor a legacy torch\.save file/,
  );
  fs.writeFileSync(f, evil);
  assert.throws(() => readTorchStateDict(f), /global os\.system is not allowed/);
  // a zip with the storage blob cut short
  const good = fs.readFileSync(path.join(FIX, "torch", "small.legacy.bin"));
  fs.writeFileSync(f, good.subarray(0, good.length - 3));
  assert.throws(() => readTorchStateDict(f), /storage \d+ \(\d+ bytes\) runs past the end of the file/);
  fs.rmSync(dir, { recursive: true });
});
