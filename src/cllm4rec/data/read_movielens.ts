// MovieLens folders: 100k (u.data, u.item, u.user), 1M (ratings.dat, movies.dat, users.dat with '::'),
// and the CSV releases (ratings.csv, movies.csv). Titles become item text; demographics become user text.
import * as fs from "node:fs";
import * as path from "node:path";
import { readLines } from "./line_reader";
import { parseDecimal } from "./delimited";
import { IssueLog } from "./issues";
import { emptyRawData, type RawData } from "./raw_data";
import { readTable } from "./read_table";
import { cleanText } from "./text";

const READER = "readMovielens (src/cllm4rec/data/read_movielens.ts)";

/** ML-1M codes (README of the 1M release). */
const ML1M_AGES: Record<string, string> = {
  "1": "under 18",
  "18": "18-24",
  "25": "25-34",
  "35": "35-44",
  "45": "45-49",
  "50": "50-55",
  "56": "56+",
};
const ML1M_OCCUPATIONS = [
  "other",
  "academic/educator",
  "artist",
  "clerical/admin",
  "college/grad student",
  "customer service",
  "doctor/health care",
  "executive/managerial",
  "farmer",
  "homemaker",
  "K-12 student",
  "lawyer",
  "programmer",
  "retired",
  "sales/marketing",
  "scientist",
  "self-employed",
  "technician/engineer",
  "tradesman/craftsman",
  "unemployed",
  "writer",
];

export interface MovielensReadOptions {
  strict?: boolean;
}

const gender = (g: string): string => (g === "M" ? "male" : g === "F" ? "female" : g);

async function readSeparated(
  file: string,
  sep: string,
  fieldCount: number,
  log: IssueLog,
  encoding: "utf8" | "latin1",
  exact: boolean,
  onFields: (f: string[], line: number) => void,
): Promise<void> {
  await readLines(
    file,
    (line, n) => {
      if (line.trim() === "") return;
      const f = line.split(sep);
      if (exact ? f.length !== fieldCount : f.length < fieldCount) {
        log.add(
          READER,
          file,
          n,
          `expected ${exact ? "" : "at least "}${fieldCount} fields separated by ${JSON.stringify(sep)}, got ${f.length}`,
        );
        return;
      }
      onFields(f, n);
    },
    encoding,
  );
}

function ratingRow(raw: RawData, log: IssueLog, file: string, f: string[], n: number): void {
  const user = f[0].trim();
  const item = f[1].trim();
  const rating = parseDecimal(f[2]);
  const time = f[3] === undefined || f[3].trim() === "" ? null : parseDecimal(f[3]);
  if (user === "" || item === "") {
    log.add(READER, file, n, "empty user or item field");
    return;
  }
  if (f[2].trim() === "" || !Number.isFinite(rating)) {
    log.add(READER, file, n, `non-numeric rating ${JSON.stringify(f[2])}`);
    return;
  }
  if (time !== null && !Number.isFinite(time)) {
    log.add(READER, file, n, `non-numeric timestamp ${JSON.stringify(f[3])}`);
    return;
  }
  raw.interactions.push({ user, item, rating, time });
}

export async function readMovielens(dir: string, options: MovielensReadOptions = {}): Promise<RawData> {
  const log = new IssueLog(options.strict ?? false);
  const at = (name: string): string => path.join(dir, name);
  const has = (name: string): boolean => fs.existsSync(at(name));
  const raw = emptyRawData(path.basename(path.resolve(dir)));
  const use = (name: string): string => {
    raw.files.push(path.resolve(at(name)));
    return at(name);
  };

  if (has("u.data")) {
    const data = use("u.data");
    await readSeparated(data, "\t", 4, log, "utf8", true, (f, n) => ratingRow(raw, log, data, f, n));
    if (has("u.item")) {
      const file = use("u.item");
      await readSeparated(file, "|", 2, log, "latin1", false, (f) => {
        const title = cleanText(f[1]);
        if (title !== "") raw.itemText.set(f[0].trim(), title);
      });
    }
    if (has("u.user")) {
      const file = use("u.user");
      await readSeparated(file, "|", 4, log, "utf8", false, (f) => {
        raw.userText.set(f[0].trim(), cleanText(`age ${f[1]}, ${gender(f[2])}, ${f[3]}`));
      });
    }
  } else if (has("ratings.dat")) {
    const data = use("ratings.dat");
    await readSeparated(data, "::", 4, log, "utf8", true, (f, n) => ratingRow(raw, log, data, f, n));
    if (has("movies.dat")) {
      const file = use("movies.dat");
      await readSeparated(file, "::", 2, log, "latin1", false, (f) => {
        const title = cleanText(f[1]);
        if (title !== "") raw.itemText.set(f[0].trim(), title);
      });
    }
    if (has("users.dat")) {
      const file = use("users.dat");
      await readSeparated(file, "::", 4, log, "utf8", false, (f) => {
        const age = ML1M_AGES[f[2]] ?? f[2];
        const job = ML1M_OCCUPATIONS[Number(f[3])] ?? f[3];
        raw.userText.set(f[0].trim(), cleanText(`age ${age}, ${gender(f[1])}, ${job}`));
      });
    }
  } else if (has("ratings.csv")) {
    const data = use("ratings.csv");
    const columns = { user: ["userId"], item: ["movieId"], rating: [], timestamp: [] };
    await readTable(data, { reader: READER, columns, required: ["user", "item", "rating"], log, format: "csv" }, (v, n) =>
      ratingRow(raw, log, data, [v.user!, v.item!, v.rating!, v.timestamp ?? ""], n),
    );
    if (has("movies.csv")) {
      const file = use("movies.csv");
      await readTable(
        file,
        { reader: READER, columns: { item: ["movieId"], title: [] }, required: ["item", "title"], log, format: "csv" },
        (v) => {
          const title = cleanText(v.title!);
          if (title !== "") raw.itemText.set(v.item!.trim(), title);
        },
      );
    }
  } else {
    throw new Error(`${READER}: ${dir} holds none of u.data (100k), ratings.dat (1M) or ratings.csv (20M/latest)`);
  }
  raw.issues = log.examples;
  raw.badRows = log.count;
  return raw;
}
