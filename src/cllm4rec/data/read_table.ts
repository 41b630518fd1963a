// Row-wise reading of a CSV/TSV (header required, delimiter sniffed) or JSONL file, by named columns.
import { readLines, type TextEncoding } from "./line_reader";
import { RecordAssembler, sniffDelimiter, splitRecord } from "./delimited";
import type { IssueLog } from "./issues";
import { parseRecordLine } from "./read_amazon";

/** Wanted column -> accepted header names (compared case-insensitively, '_' and '-' ignored). */
export type ColumnAliases = Record<string, readonly string[]>;

export interface TableReadOptions {
  reader: string;
  columns: ColumnAliases;
  /** Columns that must exist in the header (CSV/TSV) or in each row (JSONL). */
  required: readonly string[];
  log: IssueLog;
  encoding?: TextEncoding;
  /** Force a format instead of guessing from the extension and the first line. */
  format?: "csv" | "jsonl";
}

export type RowValues = Record<string, string | undefined>;

const norm = (s: string): string =>
  s
    .trim()
    .toLowerCase()
    .replace(/[_\-\s]/g, "");

function looksLikeJsonl(file: string, firstLine: string): boolean {
  if (/\.jsonl?(\.gz)?$/i.test(file)) return true;
  return firstLine.trimStart().startsWith("{");
}

function scalarToString(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v === "boolean") return String(v);
  return undefined;
}

/** Calls onRow(values, line) for each data row; bad rows go to the log (or throw in strict mode). */
export async function readTable(file: string, options: TableReadOptions, onRow: (values: RowValues, line: number) => void): Promise<void> {
  const { reader, columns, required, log } = options;
  const wanted = Object.keys(columns);
  const aliasToColumn = new Map<string, string>();
  for (const w of wanted) for (const a of [w, ...columns[w]]) aliasToColumn.set(norm(a), w);

  let format: "csv" | "jsonl" | undefined = options.format;
  let delimiter = ",";
  let headerIndex: Map<string, number> | null = null;
  let headerWidth = 0;
  let assembler: RecordAssembler | null = null;

  const handleCsvRecord = (text: string, line: number): void => {
    let fields: string[];
    try {
      fields = splitRecord(text, delimiter);
    } catch (e) {
      log.add(reader, file, line, (e as Error).message);
      return;
    }
    if (headerIndex === null) {
      headerIndex = new Map();
      headerWidth = fields.length;
      fields.forEach((h, i) => {
        const w = aliasToColumn.get(norm(h));
        if (w !== undefined && !headerIndex!.has(w)) headerIndex!.set(w, i);
      });
      const missing = required.filter((r) => !headerIndex!.has(r));
      if (missing.length > 0) {
        throw new Error(
          `${reader}: ${file}:${line}: header lacks column(s) ${missing.join(", ")} ` +
            `(found ${fields.map((f) => JSON.stringify(f)).join(", ")}; accepted names: ${missing.map((m) => [m, ...columns[m]].join("/")).join("; ")})`,
        );
      }
      return;
    }
    if (fields.length !== headerWidth) {
      log.add(reader, file, line, `expected ${headerWidth} fields, got ${fields.length}`);
      return;
    }
    const values: RowValues = {};
    for (const [w, i] of headerIndex) values[w] = fields[i];
    onRow(values, line);
  };

  await readLines(
    file,
    (line, n) => {
      if (format === undefined) {
        if (line.trim() === "") return;
        format = looksLikeJsonl(file, line) ? "jsonl" : "csv";
      }
      if (format === "jsonl") {
        if (line.trim() === "") return;
        let row: Record<string, unknown>;
        try {
          row = parseRecordLine(line);
        } catch (e) {
          log.add(reader, file, n, (e as Error).message);
          return;
        }
        const values: RowValues = {};
        for (const key of Object.keys(row)) {
          const w = aliasToColumn.get(norm(key));
          if (w !== undefined && values[w] === undefined) values[w] = scalarToString(row[key]);
        }
        const missing = required.filter((r) => values[r] === undefined);
        if (missing.length > 0) {
          log.add(reader, file, n, `missing field ${missing.join(", ")}`);
          return;
        }
        onRow(values, n);
        return;
      }
      if (assembler === null) {
        if (line.trim() === "") return;
        delimiter = sniffDelimiter(line);
        assembler = new RecordAssembler(delimiter);
      }
      if (line.trim() === "" && assembler.isIdle()) return;
      const record = assembler.push(line, n);
      if (record !== null) handleCsvRecord(record.text, record.line);
    },
    options.encoding ?? "utf8",
  );
  const left = assembler === null ? null : (assembler as RecordAssembler).leftover();
  if (left !== null) log.add(reader, file, left.line, "unterminated quoted field at end of file");
  if (format === undefined) throw new Error(`${reader}: ${file} is empty`);
  if (format === "csv" && headerIndex === null) throw new Error(`${reader}: ${file} has no header line`);
}
