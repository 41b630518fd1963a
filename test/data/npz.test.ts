// --data npz: the authors' folder layout, fixtures written by scipy.sparse.save_npz and pickle
// (test/fixtures/make_authors_formats.py), read with our own zip/.npy/pickle readers.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readNpzDataset, readSparseNpz } from "../../src/cllm4rec/data/read_npz";
import { loadDataset } from "../../src/cllm4rec/data";
import { readNpy } from "../../src/io/npy";
import { openZip } from "../../src/io/zip";

const DIR = path.resolve(__dirname, "..", "..", "..", "test", "fixtures", "authors-data");
const want = JSON.parse(fs.readFileSync(path.join(DIR, "expected.json"), "utf8"));

test("readSparseNpz: CSR (deflated), CSR (stored) and COO matrices give scipy nonzero() rows", () => {
  const formats: string[] = [];
  for (const [f, key] of [
    ["train_matrix.npz", "train"],
    ["val_matrix.npz", "val"],
    ["test_matrix.npz", "test"],
  ]) {
    const m = readSparseNpz(path.join(DIR, f));
    assert.equal(m.rows, want.numUsers);
    assert.equal(m.cols, want.numItems);
    assert.deepEqual(m.nonzero, want[key], f);
    formats.push(m.format);
  }
  assert.deepEqual(formats, ["csr", "csr", "coo"]);
  const methods = ["train_matrix.npz", "val_matrix.npz"].map(
    (f) => [...openZip(fs.readFileSync(path.join(DIR, f))).entries.values()][0].method,
  );
  assert.deepEqual(methods, [8, 0], "one deflated and one stored archive");
});

test("readNpzDataset: the split as is, ids = row/column indices, texts by the prompt ids, reviews of training pairs only", async () => {
  const ds = readNpzDataset(DIR);
  assert.equal(ds.numUsers, want.numUsers);
  assert.deepEqual(ds.userIds.slice(0, 3), ["0", "1", "2"]);
  assert.deepEqual([ds.train, ds.val, ds.test], [want.train, want.val, want.test]);
  assert.deepEqual(
    ds.reviews.map((r) => [r.user, r.item, r.text]),
    want.reviews,
  );
  for (let j = 0; j < ds.numItems; j++) assert.equal(ds.itemText[j], want.itemText[String(j)] ?? null);
  assert.equal(ds.card.interactions.val, want.val.flat().length);
  // the same through loadDataset (what --data npz DIR uses), cached on the second call
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "npz-cache-"));
  for (let k = 0; k < 2; k++) {
    const viaLoad = await loadDataset({ kind: "npz", dir: DIR }, { cacheDir });
    assert.deepEqual(viaLoad.test, want.test);
  }
  fs.rmSync(cacheDir, { recursive: true });
});

test("readNpzDataset: missing files, shape mismatch, overlapping splits and bad meta are clear errors", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "npz-bad-"));
  const copy = () => {
    const d = fs.mkdtempSync(path.join(tmp, "d-"));
    fs.cpSync(DIR, d, { recursive: true });
    return d;
  };
  assert.throws(() => readNpzDataset(path.join(tmp, "nope")), /is not a folder/);
  let d = copy();
  fs.rmSync(path.join(d, "val_matrix.npz"));
  assert.throws(() => readNpzDataset(d), /lacks val_matrix\.npz/);
  d = copy();
  fs.copyFileSync(path.join(DIR, "train_matrix.npz"), path.join(d, "test_matrix.npz"));
  assert.throws(() => readNpzDataset(d), /user 0 has item \d+ in both train and test/);
  d = copy();
  fs.writeFileSync(path.join(d, "train_matrix.npz"), "not a zip archive, just some text that is long enough");
  assert.throws(() => readNpzDataset(d), /zip\(.*train_matrix\.npz\): .*not a zip archive/);
  // meta.pkl: {'num_users': 99} as a protocol-2 pickle, by hand:
  // 80 02 7d 58 <9> "num_users" 4b 63 73 2e  = PROTO 2, EMPTY_DICT, BINUNICODE, BININT1 99, SETITEM, STOP
  d = copy();
  fs.writeFileSync(
    path.join(d, "meta.pkl"),
    Buffer.concat([Buffer.from([0x80, 2, 0x7d, 0x58, 9, 0, 0, 0]), Buffer.from("num_users"), Buffer.from([0x4b, 99, 0x73, 0x2e])]),
  );
  assert.throws(() => readNpzDataset(d), /meta\.pkl says num_users = 99, the matrices have 12/);
  fs.rmSync(tmp, { recursive: true });
});

// .npy v1.0, "<i8", shape (3,): magic, version, header length 0x76 = 118, padded header, data
function npy(descr: string, shape: string, data: Uint8Array, fortran = "False"): Uint8Array {
  let h = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  h = h.padEnd(118 - 1 - 10 + 10, " ") + "\n";
  const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
  return Buffer.concat([head, Buffer.from(h, "latin1"), data]);
}

test("readNpy: numeric and string dtypes; object arrays, big-endian and short data are refused", () => {
  const i8 = new BigInt64Array([5n, -1n, 3n]);
  assert.deepEqual(Array.from(readNpy(npy("<i8", "(3,)", new Uint8Array(i8.buffer))).values!), [5, -1, 3]);
  const f4 = new Float32Array([1.5, -2]);
  assert.deepEqual(readNpy(npy("<f4", "(1, 2)", new Uint8Array(f4.buffer))).shape, [1, 2]);
  assert.deepEqual(readNpy(npy("|S3", "()", Buffer.from("csr"))).strings, ["csr"]);
  const u = new Uint32Array([99, 115, 0]); // "cs" + NUL padding as <U3
  assert.deepEqual(readNpy(npy("<U3", "()", new Uint8Array(u.buffer))).strings, ["cs"]);
  assert.throws(
    () => readNpy(npy("|O", "(1,)", new Uint8Array(8)), "o.npy"),
    /npy\(o\.npy\): dtype "\|O" is not supported \(object or structured arrays need pickle/,
  );
  assert.throws(() => readNpy(npy(">i4", "(1,)", new Uint8Array(4))), /big-endian/);
  assert.throws(() => readNpy(npy("<f8", "(4,)", new Uint8Array(8))), /data is 8 bytes, shape \[4\] of <f8 needs 32/);
  assert.throws(() => readNpy(npy("<f8", "(2, 2)", new Uint8Array(32), "True")), /Fortran-ordered/);
  assert.throws(() => readNpy(Buffer.from("hello world")), /bad magic/);
});
