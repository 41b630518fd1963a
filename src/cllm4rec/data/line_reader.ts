// Streams a text file line by line (gunzipping .gz or gzip-magic files) without ever holding it whole.
import * as fs from "node:fs";
import * as zlib from "node:zlib";

export type TextEncoding = "utf8" | "latin1";

/** Longest line accepted (characters): far above any real record, well below V8's string limit. */
export const MAX_LINE_CHARS = 64 * 2 ** 20;

function startsWithGzipMagic(file: string): boolean {
  const fd = fs.openSync(file, "r");
  try {
    const head = Buffer.alloc(2);
    const n = fs.readSync(fd, head, 0, 2, 0);
    return n === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}

export function isGzipFile(file: string): boolean {
  return file.endsWith(".gz") || startsWithGzipMagic(file);
}

/**
 * Calls onLine(line, lineNumber) for every line (1-based numbers). Splits on '\n' only and strips one
 * trailing '\r', so a lone '\r' inside a field never breaks a record (readline would split there).
 * A UTF-8 byte-order mark at the start is dropped. Returning false from onLine stops reading.
 */
export async function readLines(
  file: string,
  // biome-ignore lint/suspicious/noConfusingVoidType: a callback that returns nothing keeps reading
  onLine: (line: string, lineNumber: number) => boolean | void,
  encoding: TextEncoding = "utf8",
  maxLineChars = MAX_LINE_CHARS,
): Promise<number> {
  if (!fs.existsSync(file)) throw new Error(`readLines (src/cllm4rec/data/line_reader.ts): file not found: ${file}`);
  if (!fs.statSync(file).isFile()) throw new Error(`readLines (src/cllm4rec/data/line_reader.ts): not a regular file: ${file}`);
  const raw = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  const stream: NodeJS.ReadableStream = isGzipFile(file) ? raw.pipe(zlib.createGunzip()) : raw;
  if (stream !== raw) raw.on("error", (e) => (stream as zlib.Gunzip).destroy(e));
  stream.setEncoding(encoding);
  let carry = "";
  let lineNumber = 0;
  let stopped = false;
  let callbackError: unknown;
  const tooLong = (n: number) =>
    new Error(
      `readLines (src/cllm4rec/data/line_reader.ts): ${file}: line ${n} is longer than ` +
        `${maxLineChars} characters (not a line-based text file, or a missing newline?)`,
    );
  const emit = (line: string): void => {
    lineNumber++;
    if (line.length > maxLineChars) {
      callbackError = tooLong(lineNumber);
      throw callbackError;
    }
    if (lineNumber === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.endsWith("\r")) line = line.slice(0, -1);
    try {
      if (onLine(line, lineNumber) === false) stopped = true;
    } catch (e) {
      callbackError = e;
      throw e;
    }
  };
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      let start = 0;
      let nl = chunk.indexOf("\n");
      if (nl >= 0 && carry.length > 0) {
        emit(carry + chunk.slice(0, nl));
        carry = "";
        start = nl + 1;
        nl = chunk.indexOf("\n", start);
      }
      while (nl >= 0 && !stopped) {
        emit(chunk.slice(start, nl));
        start = nl + 1;
        nl = chunk.indexOf("\n", start);
      }
      if (stopped) break;
      if (carry.length + chunk.length - start > maxLineChars) {
        callbackError = tooLong(lineNumber + 1);
        throw callbackError;
      }
      carry += chunk.slice(start);
    }
  } catch (e) {
    if (e === callbackError) throw e;
    throw new Error(`readLines (src/cllm4rec/data/line_reader.ts): cannot read ${file}: ${(e as Error).message}`);
  } finally {
    raw.destroy();
  }
  if (!stopped && carry.length > 0) emit(carry);
  return lineNumber;
}
