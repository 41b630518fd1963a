// Shared helpers for the data tests: temp folders, the shared real-data folder, small hand-made datasets.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import type { Dataset } from "../../src/cllm4rec/data/dataset";

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cllm4rec-data-${label}-`));
}

export function writeFile(dir: string, name: string, content: string | Buffer, gzip = false): string {
  const file = path.join(dir, name);
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  fs.writeFileSync(file, gzip ? zlib.gzipSync(bytes) : bytes);
  return file;
}

/** ../shared/data next to the repository, or CLLM4REC_SHARED_DATA; null when absent. */
export function sharedDataDir(): string | null {
  const repoRoot = path.resolve(__dirname, "..", "..", "..");
  const candidates = [process.env.CLLM4REC_SHARED_DATA, path.resolve(repoRoot, "..", "shared", "data")].filter((p): p is string => !!p);
  for (const c of candidates) if (fs.existsSync(c)) return c;
  return null;
}

/** A dataset written by hand (no preprocessing), for corpus and batch tests. */
export function handDataset(train: number[][], numItems: number, extra: Partial<Dataset> = {}): Dataset {
  const n = train.length;
  return {
    name: "hand",
    numUsers: n,
    numItems,
    userIds: train.map((_, i) => String(i)),
    itemIds: Array.from({ length: numItems }, (_, j) => String(j)),
    train,
    val: train.map(() => []),
    test: train.map(() => []),
    itemText: new Array(numItems).fill(null),
    userText: new Array(n).fill(null),
    reviews: [],
    card: {} as Dataset["card"],
    ...extra,
  };
}
