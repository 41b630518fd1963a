// The authors' released data (github: yaochenzhu/LLM4Rec): a folder with train/val/test_matrix.npz
// (scipy.sparse.save_npz, users x items), meta.pkl, and optional text pickles
// (user_item_texts/*.pkl, item_texts/*.pkl, user_texts/*.pkl: lists of (prompt, text)). The split
// is used as is: row i is user_i, column j is item_j, exactly the ids of their prompts.
import * as fs from "node:fs";
import * as path from "node:path";
import { openZip } from "../../io/zip";
import { readNpy, type NpyArray } from "../../io/npy";
import { unpickle, type PyValue } from "../../io/pickle";
import type { Dataset, TrainingReview } from "./dataset";
import { countStats, type DatasetCard } from "./dataset_card";

export const NPZ_SPLITS = ["train_matrix.npz", "val_matrix.npz", "test_matrix.npz"] as const;
const MAX_SIDE = 2 ** 22;
const TEXT_FOLDERS = ["user_item_texts", "item_texts", "user_texts"] as const;

/** Per row: the sorted column indices of its non-zero entries (scipy's getrow(i).nonzero()[1]). */
export interface SparseRows {
  rows: number;
  cols: number;
  format: string;
  nonzero: number[][];
  explicitZeros: number;
}

/** Reads a scipy.sparse .npz matrix (csr, csc or coo; compressed or not). */
export function readSparseNpz(file: string): SparseRows {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`readSparseNpz: cannot read ${file}: ${(e as Error).message}`);
  }
  const zip = openZip(bytes, file);
  const fail = (msg: string): never => {
    throw new Error(`readSparseNpz(${file}): ${msg}`);
  };
  const arr = (name: string): NpyArray => {
    const entry = `${name}.npy`;
    if (!zip.entries.has(entry))
      fail(`no ${entry} in the archive (has ${[...zip.entries.keys()].join(", ")}); is this a scipy.sparse.save_npz file?`);
    return readNpy(zip.read(entry), `${file}:${entry}`);
  };
  const ints = (name: string): Float64Array => {
    const a = arr(name);
    if (!a.values || a.shape.length !== 1) fail(`${name} must be a 1-d numeric array, got ${a.descr} [${a.shape}]`);
    for (const v of a.values!) if (!Number.isInteger(v) || v < 0) fail(`${name} holds ${v}, not a non-negative integer`);
    return a.values!;
  };
  const fmt = arr("format");
  const format = fmt.strings?.[0];
  if (!format) fail("format is not a string array");
  const shape = ints("shape");
  if (shape.length !== 2) fail(`shape has ${shape.length} entries, expected 2`);
  const [rows, cols] = [shape[0], shape[1]];
  if (rows > MAX_SIDE || cols > MAX_SIDE) fail(`shape (${rows}, ${cols}) exceeds the ${MAX_SIDE} users/items this reader accepts`);
  const dataArr = arr("data");
  if (!dataArr.values || dataArr.shape.length !== 1) fail(`data must be a 1-d numeric array, got ${dataArr.descr}`);
  const data = dataArr.values!;
  const sets: Set<number>[] = Array.from({ length: rows }, () => new Set<number>());
  let explicitZeros = 0;
  const add = (r: number, c: number, v: number, k: number) => {
    if (r >= rows || c >= cols) fail(`entry ${k} at (${r}, ${c}) lies outside the ${rows} x ${cols} matrix`);
    if (v === 0) explicitZeros++;
    else sets[r].add(c);
  };
  if (format === "csr" || format === "csc") {
    const indices = ints("indices"),
      indptr = ints("indptr");
    const major = format === "csr" ? rows : cols;
    if (indptr.length !== major + 1)
      fail(`indptr has ${indptr.length} entries, a ${format} matrix of shape (${rows}, ${cols}) needs ${major + 1}`);
    if (indices.length !== data.length) fail(`indices (${indices.length}) and data (${data.length}) differ in length`);
    if (indptr[0] !== 0 || indptr[major] !== data.length)
      fail(`indptr must run from 0 to ${data.length}, runs from ${indptr[0]} to ${indptr[major]}`);
    for (let m = 0; m < major; m++) {
      if (indptr[m + 1] < indptr[m]) fail(`indptr decreases at ${m}`);
      for (let k = indptr[m]; k < indptr[m + 1]; k++) {
        if (format === "csr") add(m, indices[k], data[k], k);
        else add(indices[k], m, data[k], k);
      }
    }
  } else if (format === "coo") {
    const row = ints("row"),
      col = ints("col");
    if (row.length !== data.length || col.length !== data.length)
      fail(`row (${row.length}), col (${col.length}) and data (${data.length}) differ in length`);
    for (let k = 0; k < data.length; k++) add(row[k], col[k], data[k], k);
  } else fail(`format ${JSON.stringify(format)} is not supported (csr, csc or coo)`);
  return { rows, cols, format: format!, nonzero: sets.map((s) => [...s].sort((a, b) => a - b)), explicitZeros };
}

/** Reads a pickle of plain data (lists, tuples, dicts, strings, numbers): no globals at all. */
export function readDataPickle(file: string): PyValue {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`readDataPickle: cannot read ${file}: ${(e as Error).message}`);
  }
  return unpickle(bytes, { source: file }).value;
}

/** (prompt, text) pairs; the prompt's user_<i> / item_<j> say whom the text is about. */
function textPairs(file: string): { user: number | null; item: number | null; text: string }[] {
  const v = readDataPickle(file);
  if (!Array.isArray(v))
    throw new Error(`readNpzDataset: ${file} holds a ${v === null ? "None" : typeof v}, expected a list of (prompt, text) pairs`);
  return v.map((pair, k) => {
    if (!Array.isArray(pair) || pair.length < 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string")
      throw new Error(`readNpzDataset: ${file} entry ${k} is not a (prompt, text) pair of strings`);
    const u = /\buser_(\d+)\b/.exec(pair[0]),
      i = /\bitem_(\d+)\b/.exec(pair[0]);
    return { user: u ? Number(u[1]) : null, item: i ? Number(i[1]) : null, text: pair[1] };
  });
}

/** Every file readNpzDataset reads in dir (required ones checked). */
export function npzInputFiles(dir: string): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`readNpzDataset: ${dir} is not a folder`);
  const files = NPZ_SPLITS.map((f) => path.join(dir, f));
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length)
    throw new Error(
      `readNpzDataset: ${dir} lacks ${missing.map((f) => path.basename(f)).join(", ")} (the authors' layout: train_matrix.npz, val_matrix.npz, test_matrix.npz[, meta.pkl, user_item_texts/, item_texts/])`,
    );
  const meta = path.join(dir, "meta.pkl");
  if (fs.existsSync(meta)) files.push(meta);
  for (const sub of TEXT_FOLDERS) {
    const d = path.join(dir, sub);
    if (fs.existsSync(d))
      files.push(
        ...fs
          .readdirSync(d)
          .filter((f) => f.endsWith(".pkl"))
          .sort()
          .map((f) => path.join(d, f)),
      );
  }
  return files;
}

export function readNpzDataset(dir: string): Dataset {
  const files = npzInputFiles(dir);
  const [train, val, test] = NPZ_SPLITS.map((f) => readSparseNpz(path.join(dir, f)));
  for (const [name, m] of [
    ["val_matrix.npz", val],
    ["test_matrix.npz", test],
  ] as const)
    if (m.rows !== train.rows || m.cols !== train.cols)
      throw new Error(`readNpzDataset: ${dir}: ${name} is ${m.rows} x ${m.cols} but train_matrix.npz is ${train.rows} x ${train.cols}`);
  const I = train.rows,
    J = train.cols;
  const metaFile = path.join(dir, "meta.pkl");
  if (fs.existsSync(metaFile)) {
    const meta = readDataPickle(metaFile);
    if (meta instanceof Map) {
      for (const [key, want] of [
        ["num_users", I],
        ["num_items", J],
      ] as const) {
        const got = meta.get(key);
        if (got !== undefined && got !== want)
          throw new Error(`readNpzDataset: ${metaFile} says ${key} = ${String(got)}, the matrices have ${want}`);
      }
    }
  }
  // the splits must be disjoint, or a test item would also be a training item
  for (let u = 0; u < I; u++) {
    const tr = new Set(train.nonzero[u]);
    for (const [name, m] of [
      ["val", val],
      ["test", test],
    ] as const)
      for (const j of m.nonzero[u])
        if (tr.has(j)) throw new Error(`readNpzDataset: ${dir}: user ${u} has item ${j} in both train and ${name}`);
    const v = new Set(val.nonzero[u]);
    for (const j of test.nonzero[u]) if (v.has(j)) throw new Error(`readNpzDataset: ${dir}: user ${u} has item ${j} in both val and test`);
  }
  const trainSet = new Set<number>();
  for (let u = 0; u < I; u++) for (const j of train.nonzero[u]) trainSet.add(u * J + j);
  const itemText: (string | null)[] = new Array(J).fill(null);
  const userText: (string | null)[] = new Array(I).fill(null);
  const reviews: TrainingReview[] = [];
  let droppedReviews = 0;
  const append = (arr: (string | null)[], k: number, t: string) => (arr[k] = arr[k] ? `${arr[k]} ${t}` : t);
  for (const f of files.filter((x) => x.endsWith(".pkl") && path.basename(x) !== "meta.pkl")) {
    for (const { user, item, text } of textPairs(f)) {
      if (text === "") continue;
      if (user !== null && user >= I) throw new Error(`readNpzDataset: ${f} names user_${user}, the matrices have ${I} users`);
      if (item !== null && item >= J) throw new Error(`readNpzDataset: ${f} names item_${item}, the matrices have ${J} items`);
      if (user !== null && item !== null) {
        // only reviews of training pairs may reach a corpus
        if (trainSet.has(user * J + item)) reviews.push({ user, item, text });
        else droppedReviews++;
      } else if (item !== null) append(itemText, item, text);
      else if (user !== null) append(userText, user, text);
    }
  }
  const ids = (n: number) => Array.from({ length: n }, (_, k) => String(k));
  const sum = (m: SparseRows) => m.nonzero.reduce((a, r) => a + r.length, 0);
  const positives = train.nonzero.map((r, u) => r.length + val.nonzero[u].length + test.nonzero[u].length);
  const itemCounts = new Array<number>(J).fill(0);
  for (const m of [train, val, test]) for (const r of m.nonzero) for (const j of r) itemCounts[j]++;
  const total = sum(train) + sum(val) + sum(test);
  const name = path.basename(path.resolve(dir));
  const card: DatasetCard = {
    name,
    source: `npz ${dir}`,
    options: {
      split: "the authors' train/val/test matrices, used as is",
      droppedReviewsOutsideTrain: droppedReviews,
      explicitZeros: train.explicitZeros + val.explicitZeros + test.explicitZeros,
    },
    raw: { rows: total, users: I, items: J, badRows: 0, badRowExamples: [] },
    filtering: { duplicatePairs: 0, positivePairs: total, afterCorePairs: total, droppedUsersUnsplittable: 0 },
    users: I,
    items: J,
    interactions: { train: sum(train), val: sum(val), test: sum(test), total },
    density: total / (I * J),
    perUser: countStats(positives),
    perItem: countStats(itemCounts),
    textCoverage: {
      itemsWithText: itemText.filter((t) => t !== null).length,
      usersWithText: userText.filter((t) => t !== null).length,
      trainPairsWithReview: reviews.length,
      trainPairs: sum(train),
    },
  };
  return {
    name,
    numUsers: I,
    numItems: J,
    userIds: ids(I),
    itemIds: ids(J),
    train: train.nonzero,
    val: val.nonzero,
    test: test.nonzero,
    itemText,
    userText,
    reviews,
    card,
  };
}
