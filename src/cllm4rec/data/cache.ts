// On-disk cache of preprocessed datasets, keyed by the inputs' paths, sizes and mtimes plus every option.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Dataset } from "./dataset";

/** Bump when the Dataset layout or preprocessing semantics change, so stale caches are rebuilt. */
export const DATASET_CACHE_VERSION = 2; // 2: empty or non-decimal ratings are bad rows (issue 10)

export interface FileFingerprint {
  path: string;
  size: number;
  mtimeMs: number;
}

export function fingerprintFiles(files: string[]): FileFingerprint[] {
  return files.map((f) => {
    const st = fs.statSync(f);
    return { path: path.resolve(f), size: st.size, mtimeMs: st.mtimeMs };
  });
}

/** Stable JSON (sorted keys) so key order in option objects never changes the hash. */
function canonical(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const o = value as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(",")}}`;
}

export function datasetCacheKey(parts: { spec: unknown; options: unknown; files: FileFingerprint[] }): string {
  return crypto
    .createHash("sha256")
    .update(canonical({ v: DATASET_CACHE_VERSION, ...parts }))
    .digest("hex")
    .slice(0, 32);
}

export function cachePaths(cacheDir: string, key: string): { dataset: string; card: string } {
  return { dataset: path.join(cacheDir, `${key}.json`), card: path.join(cacheDir, `${key}.card.json`) };
}

/** The cached dataset, or null when absent or unreadable (a broken cache file is simply rebuilt). */
export function readCachedDataset(file: string): Dataset | null {
  if (!fs.existsSync(file)) return null;
  try {
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { version?: number; dataset?: Dataset };
    if (parsed.version !== DATASET_CACHE_VERSION || parsed.dataset === undefined) return null;
    const d = parsed.dataset;
    if (!Array.isArray(d.train) || d.train.length !== d.numUsers || !Array.isArray(d.itemIds) || d.itemIds.length !== d.numItems)
      return null;
    return d;
  } catch {
    return null;
  }
}

/** Written to a temporary name and renamed, so a reader never sees half a file. */
export function writeCachedDataset(file: string, dataset: Dataset): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ version: DATASET_CACHE_VERSION, dataset }));
  fs.renameSync(tmp, file);
}
