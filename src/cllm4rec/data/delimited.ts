// CSV/TSV record splitting with RFC 4180 quoting (quoted delimiters, doubled quotes, newlines inside quotes).

export const CANDIDATE_DELIMITERS = ["\t", ",", ";", "|"] as const;

/** Counts each candidate outside quotes in the header line and picks the most frequent (ties: tab, comma, ...). */
export function sniffDelimiter(header: string): string {
  let best: string = ",";
  let bestCount = 0;
  for (const d of CANDIDATE_DELIMITERS) {
    let count = 0;
    let quoted = false;
    for (const c of header) {
      if (c === '"') quoted = !quoted;
      else if (!quoted && c === d) count++;
    }
    if (count > bestCount) {
      best = d;
      bestCount = count;
    }
  }
  return best;
}

/** True while `text` has an unclosed quoted field (the record continues on the next line). Quotes only open at a field start. */
export function hasOpenQuote(text: string, delimiter: string): boolean {
  let i = 0;
  const n = text.length;
  while (i <= n) {
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) return true;
        if (text[q + 1] === '"') {
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
    }
    const d = text.indexOf(delimiter, i);
    if (d < 0) return false;
    i = d + delimiter.length;
  }
  return false;
}

/** Splits one complete record; throws when a quote is malformed (text after a closing quote). */
export function splitRecord(record: string, delimiter: string): string[] {
  if (!record.includes('"')) return record.split(delimiter);
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (record[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = record.indexOf('"', i);
        if (q < 0) throw new Error("unterminated quoted field");
        value += record.slice(i, q);
        if (record[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === record.length) return fields;
      if (!record.startsWith(delimiter, i)) throw new Error(`unexpected text after a closing quote in field ${fields.length}`);
      i += delimiter.length;
    } else {
      const d = record.indexOf(delimiter, i);
      if (d < 0) {
        fields.push(record.slice(i));
        return fields;
      }
      fields.push(record.slice(i, d));
      i = d + delimiter.length;
    }
  }
}

/**
 * Feeds lines in, gets complete records out: a record whose quotes are still open swallows the next lines.
 * Each record carries the number of the line it started on. A record that grows past maxRecordChars is handed out
 * unfinished (its split then fails as an unterminated quote) so one stray quote cannot swallow the file.
 */
export class RecordAssembler {
  constructor(
    readonly delimiter: string,
    readonly maxRecordChars = 1 << 20,
  ) {}
  private pending: string | null = null;
  private startLine = 0;

  push(line: string, lineNumber: number): { text: string; line: number } | null {
    const text = this.pending === null ? line : `${this.pending}\n${line}`;
    const start = this.pending === null ? lineNumber : this.startLine;
    if (text.length <= this.maxRecordChars && hasOpenQuote(text, this.delimiter)) {
      this.pending = text;
      this.startLine = start;
      return null;
    }
    this.pending = null;
    return { text, line: start };
  }

  /** True when no record is half-read. */
  isIdle(): boolean {
    return this.pending === null;
  }

  /** The unfinished record at end of file, if any. */
  leftover(): { text: string; line: number } | null {
    return this.pending === null ? null : { text: this.pending, line: this.startLine };
  }
}

/** A decimal number as written in data files; NaN for anything else (Number() would read "0x10" as 16, "" as 0). */
export function parseDecimal(s: string): number {
  const t = s.trim();
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) ? Number(t) : NaN;
}
