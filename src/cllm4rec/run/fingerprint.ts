// The data a run was trained on, pinned: size and SHA-256 of every input file and a hash
// of the processed dataset (ids, splits, texts). Embeddings are rows of that dataset; applied
// to a changed file with the same counts they would silently score the wrong items.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import type { Dataset } from "../data";
import type { Fields } from "./json";

export interface DataFingerprint {
  files: { path: string; bytes: number; sha256: string }[];
  /** SHA-256 of the processed dataset: ids, train/val/test splits, texts, reviews */
  dataset: string;
  users: number;
  items: number;
}

function hashFile(file: string): string {
  const h = crypto.createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n = fs.readSync(fd, buf, 0, buf.length, null); n > 0; n = fs.readSync(fd, buf, 0, buf.length, null))
      h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}

export function datasetHash(ds: Dataset): string {
  const h = crypto.createHash("sha256");
  for (const part of [ds.userIds, ds.itemIds, ds.train, ds.val, ds.test, ds.itemText, ds.userText, ds.reviews])
    h.update(JSON.stringify(part)).update("\n");
  return h.digest("hex");
}

export function fingerprint(files: string[], ds: Dataset): DataFingerprint {
  return {
    files: files.map((f) => ({ path: f, bytes: fs.statSync(f).size, sha256: hashFile(f) })),
    dataset: datasetHash(ds),
    users: ds.numUsers,
    items: ds.numItems,
  };
}

export function parseFingerprint(f: Fields): DataFingerprint {
  return {
    files: f.objects("files").map((x) => ({ path: x.string("path"), bytes: x.int("bytes", 0), sha256: x.string("sha256") })),
    dataset: f.string("dataset"),
    users: f.int("users", 0),
    items: f.int("items", 0),
  };
}

/** What differs between the recorded data and the data read now; empty when they match. */
export function fingerprintChanges(was: DataFingerprint, now: DataFingerprint): string[] {
  const out: string[] = [];
  const nowBy = new Map(now.files.map((f) => [f.path, f]));
  for (const f of was.files) {
    const g = nowBy.get(f.path);
    if (!g) out.push(`${f.path} is no longer an input`);
    else if (g.bytes !== f.bytes) out.push(`${f.path}: ${g.bytes} bytes, was ${f.bytes}`);
    else if (g.sha256 !== f.sha256)
      out.push(`${f.path}: same size, different content (SHA-256 ${g.sha256.slice(0, 12)}…, was ${f.sha256.slice(0, 12)}…)`);
  }
  for (const g of now.files) if (!was.files.some((f) => f.path === g.path)) out.push(`${g.path} is a new input`);
  if (was.users !== now.users || was.items !== now.items)
    out.push(`dataset has ${now.users} users × ${now.items} items, was ${was.users} × ${was.items}`);
  if (was.dataset !== now.dataset) out.push(`processed dataset (ids, splits or texts) differs`);
  return out;
}
