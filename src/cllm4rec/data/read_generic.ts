// Generic interactions (CSV/TSV/JSONL with user, item, rating?, timestamp?) plus optional text files.
import * as path from "node:path";
import { parseDecimal } from "./delimited";
import { IssueLog } from "./issues";
import { emptyRawData, reviewKey, type RawData } from "./raw_data";
import { readTable, type ColumnAliases } from "./read_table";
import { cleanText } from "./text";

const USER = ["user_id", "userid", "user_ids", "uid", "reviewerID", "customer_id"];
const ITEM = ["item_id", "itemid", "item_ids", "iid", "asin", "parent_asin", "movie_id", "movieId", "product_id"];
const RATING = ["ratings", "overall", "score", "stars"];
const TIME = ["timestamp", "unixReviewTime", "ts", "date"];
const TEXT = ["description", "title", "review", "reviewText", "content", "body"];

export interface GenericFiles {
  interactions: string;
  /** item,text */
  itemText?: string;
  /** user,text */
  userText?: string;
  /** user,item,text */
  reviews?: string;
}

export interface GenericReadOptions {
  strict?: boolean;
}

/** undefined (no such column) is null; an empty cell or a non-decimal text is 'bad'. */
function parseNumber(s: string | undefined): number | null | "bad" {
  if (s === undefined) return null;
  const v = parseDecimal(s);
  return Number.isFinite(v) ? v : "bad";
}

/** Reads time as a number of seconds, or an ISO-like date string; milliseconds are scaled down. */
function parseTime(s: string | undefined): number | null | "bad" {
  if (s !== undefined && s.trim() === "") return null;
  const v = parseNumber(s);
  if (v === "bad") {
    const ms = Date.parse(s!.trim());
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : "bad";
  }
  return v !== null && v > 1e11 ? Math.floor(v / 1000) : v;
}

export async function readGeneric(files: GenericFiles, options: GenericReadOptions = {}): Promise<RawData> {
  const reader = "readGeneric (src/cllm4rec/data/read_generic.ts)";
  const raw = emptyRawData(path.basename(files.interactions).replace(/\.[^.]+(\.gz)?$/, ""));
  const log = new IssueLog(options.strict ?? false);
  raw.files.push(path.resolve(files.interactions));
  const columns: ColumnAliases = { user: USER, item: ITEM, rating: RATING, timestamp: TIME };
  await readTable(files.interactions, { reader, columns, required: ["user", "item"], log }, (v, line) => {
    const user = v.user!.trim();
    const item = v.item!.trim();
    if (user === "" || item === "") {
      log.add(reader, files.interactions, line, `empty ${user === "" ? "user" : "item"} field`);
      return;
    }
    const rating = parseNumber(v.rating);
    if (rating === "bad") {
      log.add(
        reader,
        files.interactions,
        line,
        v.rating!.trim() === "" ? "empty rating" : `non-numeric rating ${JSON.stringify(v.rating)}`,
      );
      return;
    }
    const time = parseTime(v.timestamp);
    if (time === "bad") {
      log.add(reader, files.interactions, line, `unreadable timestamp ${JSON.stringify(v.timestamp)}`);
      return;
    }
    raw.interactions.push({ user, item, rating, time });
  });
  if (files.itemText !== undefined) await readTextFile(files.itemText, "item", raw.itemText, log);
  if (files.userText !== undefined) await readTextFile(files.userText, "user", raw.userText, log);
  if (files.reviews !== undefined) {
    const file = files.reviews;
    raw.files.push(path.resolve(file));
    const reviewReader = "readGeneric reviews (src/cllm4rec/data/read_generic.ts)";
    await readTable(
      file,
      { reader: reviewReader, columns: { user: USER, item: ITEM, text: TEXT }, required: ["user", "item", "text"], log },
      (v, line) => {
        const user = v.user!.trim();
        const item = v.item!.trim();
        if (user === "" || item === "") {
          log.add(reviewReader, file, line, "empty user or item field");
          return;
        }
        const text = cleanText(v.text!);
        if (text !== "") raw.reviews.set(reviewKey(user, item), text);
      },
    );
  }
  raw.issues = log.examples;
  raw.badRows = log.count;
  return raw;

  async function readTextFile(file: string, key: "item" | "user", into: Map<string, string>, issues: IssueLog): Promise<void> {
    const textReader = `readGeneric ${key} text (src/cllm4rec/data/read_generic.ts)`;
    raw.files.push(path.resolve(file));
    const cols: ColumnAliases = key === "item" ? { item: ITEM, text: TEXT } : { user: USER, text: TEXT };
    await readTable(file, { reader: textReader, columns: cols, required: [key, "text"], log: issues }, (v, line) => {
      const id = v[key]!.trim();
      if (id === "") {
        issues.add(textReader, file, line, `empty ${key} field`);
        return;
      }
      const text = cleanText(v.text!);
      if (text !== "") into.set(id, text);
    });
  }
}
