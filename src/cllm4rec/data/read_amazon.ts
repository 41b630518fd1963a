// Amazon review dumps: 2014 reviews_<Category>_5.json(.gz) (JSON or Python-dict lines), 2018 <Category>_5.json,
// 2023 <Category>.jsonl; optional product metadata for item titles.
import * as path from "node:path";
import { readLines } from "./line_reader";
import { parseDecimal } from "./delimited";
import { IssueLog } from "./issues";
import { parsePythonLiteral } from "./python_literal";
import { emptyRawData, reviewKey, type RawData } from "./raw_data";
import { cleanText, decodeHtmlEntities } from "./text";

const READER = "readAmazonReviews (src/cllm4rec/data/read_amazon.ts)";

export interface AmazonReadOptions {
  strict?: boolean;
  /** Product metadata file (2014 meta_*.json(.gz), 2018 meta_*.json, 2023 meta_*.jsonl): titles become item text. */
  meta?: string;
}

type Row = Record<string, unknown>;

/** JSON first; the older dumps' Python repr() lines second. Throws with the reason when neither parses. */
export function parseRecordLine(line: string): Row {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (jsonError) {
    try {
      value = parsePythonLiteral(line);
    } catch {
      throw new Error(`bad JSON (${(jsonError as Error).message})`);
    }
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("line is not a JSON object");
  return value as Row;
}

function firstString(row: Row, keys: string[]): string | null {
  for (const k of keys) {
    const v = row[k];
    if (typeof v === "string" && v.length > 0) return v;
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
  }
  return null;
}

function textField(row: Row, keys: string[]): string {
  for (const k of keys) {
    const v = row[k];
    if (typeof v === "string" && v.trim().length > 0) return cleanText(decodeHtmlEntities(v));
    if (Array.isArray(v)) {
      const joined = v.filter((x) => typeof x === "string").join(" ");
      if (joined.trim().length > 0) return cleanText(decodeHtmlEntities(joined));
    }
  }
  return "";
}

/** 2023 timestamps are milliseconds; 2014/2018 unixReviewTime is seconds. */
function timeField(row: Row): number | null {
  const v = row.unixReviewTime ?? row.timestamp;
  if (typeof v !== "number" || !Number.isFinite(v)) return null;
  return v > 1e11 ? Math.floor(v / 1000) : v;
}

export async function readAmazonReviews(file: string, options: AmazonReadOptions = {}): Promise<RawData> {
  const raw = emptyRawData(path.basename(file).replace(/\.(jsonl|json)(\.gz)?$/, ""));
  const log = new IssueLog(options.strict ?? false);
  raw.files.push(path.resolve(file));
  await readLines(file, (line, n) => {
    if (line.trim() === "") return;
    let row: Row;
    try {
      row = parseRecordLine(line);
    } catch (e) {
      log.add(READER, file, n, (e as Error).message);
      return;
    }
    const user = firstString(row, ["reviewerID", "user_id"]);
    // 2023 reviews key products by parent_asin (variants share it); older dumps only have asin.
    const item = firstString(row, ["parent_asin", "asin"]);
    if (user === null || item === null) {
      log.add(READER, file, n, `missing field ${user === null ? "reviewerID/user_id" : "asin/parent_asin"}`);
      return;
    }
    const hasRating = "overall" in row || "rating" in row;
    const r = row.overall ?? row.rating;
    let rating: number | null = null;
    if (hasRating) {
      // a rating field that is null or empty is a broken row, not an unrated positive
      rating = typeof r === "number" ? r : typeof r === "string" ? parseDecimal(r) : NaN;
      if (!Number.isFinite(rating)) {
        log.add(READER, file, n, `non-numeric rating ${JSON.stringify(r)}`);
        return;
      }
    }
    raw.interactions.push({ user, item, rating, time: timeField(row) });
    // The review body, falling back to the summary/title when the body is empty.
    const text = textField(row, ["reviewText", "text"]) || textField(row, ["summary", "title"]);
    if (text !== "") raw.reviews.set(reviewKey(user, item), text);
  });
  if (options.meta !== undefined) await readAmazonMeta(options.meta, raw, log);
  raw.issues = log.examples;
  raw.badRows = log.count;
  return raw;
}

/** Item titles (and the first description entry) from a metadata file; rows without an id count as bad. */
async function readAmazonMeta(file: string, raw: RawData, log: IssueLog): Promise<void> {
  const reader = "readAmazonMeta (src/cllm4rec/data/read_amazon.ts)";
  raw.files.push(path.resolve(file));
  await readLines(file, (line, n) => {
    if (line.trim() === "") return;
    let row: Row;
    try {
      row = parseRecordLine(line);
    } catch (e) {
      log.add(reader, file, n, (e as Error).message);
      return;
    }
    const item = firstString(row, ["parent_asin", "asin"]);
    if (item === null) {
      log.add(reader, file, n, "missing field asin/parent_asin");
      return;
    }
    const title = textField(row, ["title"]);
    const description = textField(row, ["description"]);
    const text = [title, description].filter((s) => s !== "").join(". ");
    if (text !== "") raw.itemText.set(item, text);
  });
}
