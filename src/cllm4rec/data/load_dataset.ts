// One entry point from a data spec (what the CLI's --data flags describe) to a preprocessed Dataset.
import * as fs from "node:fs";
import * as path from "node:path";
import { cachePaths, datasetCacheKey, fingerprintFiles, readCachedDataset, writeCachedDataset } from "./cache";
import type { Dataset } from "./dataset";
import { formatDatasetCard } from "./dataset_card";
import { preprocess, resolvePreprocessOptions, type PreprocessOptions } from "./preprocess";
import type { RawData } from "./raw_data";
import { readAmazonReviews } from "./read_amazon";
import { readGeneric } from "./read_generic";
import { readMovielens } from "./read_movielens";
import { npzInputFiles, readNpzDataset } from "./read_npz";
import { generateSynthetic, resolveSyntheticOptions, type SyntheticOptions } from "./synthetic";

const WHERE = "loadDataset (src/cllm4rec/data/load_dataset.ts)";

export type DataSpec =
  | ({ kind: "synthetic" } & SyntheticOptions)
  | { kind: "movielens"; dir: string }
  | { kind: "amazon"; file: string; meta?: string }
  | { kind: "generic"; interactions: string; itemText?: string; userText?: string; reviews?: string }
  | { kind: "npz"; dir: string };

export interface LoadOptions extends PreprocessOptions {
  /** Folder for cached datasets (e.g. ".cache/datasets"); no caching when absent. */
  cacheDir?: string;
  /** Also write the dataset card JSON here. */
  cardFile?: string;
  /** Throw at the first bad row instead of counting it. */
  strict?: boolean;
  /** Where the card table goes (default: nowhere). Pass console.log to print it. */
  log?: (text: string) => void;
}

const MOVIELENS_FILES = ["u.data", "u.item", "u.user", "ratings.dat", "movies.dat", "users.dat", "ratings.csv", "movies.csv"];

/** Every file the spec reads, for the cache key; missing required files are a clear Error here. */
export function specInputFiles(spec: DataSpec): string[] {
  const need = (f: string, what: string): string => {
    if (!fs.existsSync(f)) throw new Error(`${WHERE}: ${what} not found: ${f}`);
    return f;
  };
  switch (spec.kind) {
    case "synthetic":
      return [];
    case "movielens":
      need(spec.dir, "MovieLens folder");
      return MOVIELENS_FILES.map((f) => path.join(spec.dir, f)).filter((f) => fs.existsSync(f));
    case "amazon":
      return [need(spec.file, "Amazon review file"), ...(spec.meta ? [need(spec.meta, "Amazon metadata file")] : [])];
    case "npz":
      return npzInputFiles(spec.dir);
    case "generic":
      return [
        need(spec.interactions, "interactions file"),
        ...(["itemText", "userText", "reviews"] as const).filter((k) => spec[k] !== undefined).map((k) => need(spec[k]!, `${k} file`)),
      ];
    default:
      throw new Error(
        `${WHERE}: unknown data kind ${JSON.stringify((spec as { kind?: unknown }).kind)} (expected synthetic, movielens, amazon, generic or npz)`,
      );
  }
}

export async function readRawData(spec: DataSpec, strict = false): Promise<RawData> {
  switch (spec.kind) {
    case "synthetic":
      return generateSynthetic(spec).raw;
    case "movielens":
      return readMovielens(spec.dir, { strict });
    case "amazon":
      return readAmazonReviews(spec.file, { strict, meta: spec.meta });
    case "generic":
      return readGeneric(spec, { strict });
    case "npz":
      throw new Error(`${WHERE}: npz data is already split; it has no raw interactions to preprocess`);
    default:
      throw new Error(`${WHERE}: unknown data kind ${JSON.stringify((spec as { kind?: unknown }).kind)}`);
  }
}

function sourceLabel(spec: DataSpec): string {
  switch (spec.kind) {
    case "synthetic":
      return "synthetic";
    case "movielens":
      return `movielens ${spec.dir}`;
    case "amazon":
      return `amazon ${spec.file}`;
    case "generic":
      return `generic ${spec.interactions}`;
    case "npz":
      return `npz ${spec.dir}`;
  }
}

export async function loadDataset(spec: DataSpec, options: LoadOptions = {}): Promise<Dataset> {
  const files = specInputFiles(spec);
  const pre = resolvePreprocessOptions(options);
  const specForKey = spec.kind === "synthetic" ? { kind: "synthetic", ...resolveSyntheticOptions(spec) } : spec;
  const key = datasetCacheKey({ spec: specForKey, options: { ...pre, strict: options.strict ?? false }, files: fingerprintFiles(files) });
  const paths = options.cacheDir === undefined ? null : cachePaths(options.cacheDir, key);

  let dataset = paths === null ? null : readCachedDataset(paths.dataset);
  if (dataset === null) {
    if (spec.kind === "npz")
      dataset = readNpzDataset(spec.dir); // the authors' split, no preprocessing
    else {
      const raw = await readRawData(spec, options.strict ?? false);
      dataset = preprocess(raw, pre, sourceLabel(spec));
    }
    if (paths !== null) {
      writeCachedDataset(paths.dataset, dataset);
      fs.writeFileSync(paths.card, JSON.stringify(dataset.card, null, 2));
    }
  }
  if (options.cardFile !== undefined) {
    fs.mkdirSync(path.dirname(path.resolve(options.cardFile)), { recursive: true });
    fs.writeFileSync(options.cardFile, JSON.stringify(dataset.card, null, 2));
  }
  options.log?.(formatDatasetCard(dataset.card));
  return dataset;
}
