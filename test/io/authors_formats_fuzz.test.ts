// Truncated and randomly mutated pytorch_model.bin (zip and legacy), .npz and pickle files
// either parse to consistent tensors/matrices or throw an Error: never a crash, a hang, a
// non-Error throw, or a tensor whose data disagrees with its shape.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readTorchStateDict } from "../../src/io/torch_bin";
import { readSparseNpz } from "../../src/cllm4rec/data/read_npz";
import { unpickle } from "../../src/io/pickle";
import { mulberry32 } from "../../src/io/prng";

const FIX = path.resolve(__dirname, "..", "..", "..", "test", "fixtures");

/** Uniform [0, 1) draws from the project's mulberry32 stream. */
function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

function mutate(base: Uint8Array, rnd: () => number): Uint8Array {
  const kind = Math.floor(rnd() * 4);
  if (kind === 0) return base.slice(0, Math.floor(rnd() * base.length)); // truncation
  const out = base.slice();
  if (kind === 1) {
    const flips = 1 + Math.floor(rnd() * 8);
    for (let k = 0; k < flips; k++) out[Math.floor(rnd() * out.length)] = Math.floor(rnd() * 256);
    return out;
  }
  // a 4-byte field set to a boundary value (sizes, offsets, lengths)
  const at = Math.floor(rnd() * Math.max(1, out.length - 4));
  const v = [0, 1, 0x7fffffff, 0xffffffff, out.length, out.length + 1, 0x80000000][Math.floor(rnd() * 7)];
  new DataView(out.buffer).setUint32(at, v >>> 0, true);
  if (kind === 3) out[Math.floor(rnd() * out.length)] ^= 1 << Math.floor(rnd() * 8);
  return out;
}

function fuzz(name: string, base: Uint8Array, cases: number, check: (bytes: Uint8Array, label: string) => void, seed: number) {
  const rnd = prng(seed);
  let parsed = 0;
  let rejected = 0;
  const t0 = Date.now();
  for (let c = 0; c < cases; c++) {
    const bytes = mutate(base, rnd);
    try {
      check(bytes, `${name}-${c}`);
      parsed++;
    } catch (e) {
      assert.ok(e instanceof Error, `${name} case ${c} threw a non-Error: ${String(e)}`);
      assert.ok(
        !(e instanceof RangeError && /Maximum call stack|Invalid array length|Array buffer allocation/.test(e.message)),
        `${name} case ${c}: ${e.message}`,
      );
      rejected++;
    }
  }
  assert.ok(rejected > cases / 4, `${name}: parsed ${parsed}, rejected ${rejected}`);
  assert.ok(Date.now() - t0 < 20_000, `${name}: fuzz took over 20 s`);
}

const tensorsConsistent = (bytes: Uint8Array, label: string) => {
  for (const [n, t] of readTorchStateDict(bytes, label)) {
    assert.equal(
      t.data.length,
      t.shape.reduce((a, d) => a * d, 1),
      `${label} ${n}`,
    );
  }
};

test("fuzz: 1500 mutated pytorch_model.bin files (zip) never crash, hang or return inconsistent tensors", () => {
  fuzz("zip", fs.readFileSync(path.join(FIX, "torch", "small.zip.bin")), 1500, tensorsConsistent, 1601);
});

test("fuzz: 1500 mutated pytorch_model.bin files (legacy) never crash, hang or return inconsistent tensors", () => {
  fuzz("legacy", fs.readFileSync(path.join(FIX, "torch", "small.legacy.bin")), 1500, tensorsConsistent, 1602);
});

test("fuzz: 1500 mutated .npz matrices and 1500 mutated pickles never crash or hang", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "npz-fuzz-"));
  const f = path.join(tmp, "m.npz");
  for (const src of ["train_matrix.npz", "val_matrix.npz"]) {
    fuzz(
      src,
      fs.readFileSync(path.join(FIX, "authors-data", src)),
      750,
      (bytes) => {
        fs.writeFileSync(f, bytes);
        const m = readSparseNpz(f);
        assert.equal(m.nonzero.length, m.rows);
        for (const r of m.nonzero) for (const j of r) assert.ok(j >= 0 && j < m.cols);
      },
      1603,
    );
  }
  fs.rmSync(tmp, { recursive: true });
  fuzz(
    "review.pkl",
    fs.readFileSync(path.join(FIX, "authors-data", "user_item_texts", "review.pkl")),
    1500,
    (bytes, label) => {
      unpickle(bytes, { source: label });
    },
    1604,
  );
});
