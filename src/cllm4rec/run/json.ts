// JSON for run files: numbers round-trip exactly, ±Infinity and NaN included (plain JSON
// writes them as null), and every field read back is checked, with errors naming the
// file and the field.
import * as fs from "node:fs";

const NON_FINITE: Record<string, number> = { Infinity: Infinity, "-Infinity": -Infinity, NaN: NaN };

/** JSON text; non-finite numbers become the strings "Infinity", "-Infinity", "NaN". */
export function stringifyRunJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2) + "\n";
}

/** Reads and parses a run file; a missing, empty or malformed file is an error naming it. */
export function readRunJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`${file}: cannot read the ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (text.trim() === "") throw new Error(`${file}: the ${what} is empty (the run folder is damaged)`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: the ${what} is not valid JSON (${(e as Error).message}); the run folder is damaged`);
  }
}

/** Typed, checked access to a parsed JSON object: `at` is the field path used in errors. */
export class Fields {
  constructor(
    readonly file: string,
    readonly value: unknown,
    readonly at = "",
  ) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw this.fail(`must be an object, got ${describe(value)}`);
  }

  private get obj(): Record<string, unknown> {
    return this.value as Record<string, unknown>;
  }

  fail(msg: string, field?: string): Error {
    const name = field === undefined ? this.at || "(top level)" : this.path(field);
    return new Error(`${this.file}: field '${name}' ${msg}`);
  }

  path(field: string): string {
    return this.at ? `${this.at}.${field}` : field;
  }

  has(field: string): boolean {
    return Object.hasOwn(this.obj, field) && this.obj[field] !== undefined;
  }

  raw(field: string): unknown {
    return this.has(field) ? this.obj[field] : undefined;
  }

  /** a number, or one of the non-finite spellings stringifyRunJson writes */
  number(field: string, opts: { finite?: boolean; min?: number; max?: number; integer?: boolean } = {}): number {
    const v = this.obj[field];
    const n =
      typeof v === "number" ? v : typeof v === "string" && v in NON_FINITE && Object.hasOwn(NON_FINITE, v) ? NON_FINITE[v] : undefined;
    if (n === undefined) throw this.fail(`must be a number, got ${describe(v)}`, field);
    if (opts.finite && !Number.isFinite(n)) throw this.fail(`must be a finite number, got ${n}`, field);
    if (opts.integer && !Number.isSafeInteger(n)) throw this.fail(`must be an integer, got ${n}`, field);
    if (opts.min !== undefined && !(n >= opts.min)) throw this.fail(`must be >= ${opts.min}, got ${n}`, field);
    if (opts.max !== undefined && !(n <= opts.max)) throw this.fail(`must be <= ${opts.max}, got ${n}`, field);
    return n;
  }

  int(field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    return this.number(field, { integer: true, min, max });
  }

  optionalNumber(field: string): number | undefined {
    return this.has(field) ? this.number(field) : undefined;
  }

  string(field: string, choices?: readonly string[]): string {
    const v = this.obj[field];
    if (typeof v !== "string") throw this.fail(`must be a string, got ${describe(v)}`, field);
    if (choices && !choices.includes(v)) throw this.fail(`must be one of ${choices.join(", ")}, got '${v}'`, field);
    return v;
  }

  bool(field: string): boolean {
    const v = this.obj[field];
    if (typeof v !== "boolean") throw this.fail(`must be true or false, got ${describe(v)}`, field);
    return v;
  }

  object(field: string): Fields {
    return new Fields(this.file, this.obj[field], this.path(field));
  }

  array(field: string): unknown[] {
    const v = this.obj[field];
    if (!Array.isArray(v)) throw this.fail(`must be an array, got ${describe(v)}`, field);
    return v;
  }

  /** each element of an array of objects */
  objects(field: string): Fields[] {
    return this.array(field).map((v, i) => new Fields(this.file, v, `${this.path(field)}[${i}]`));
  }

  keys(): string[] {
    return Object.keys(this.obj);
  }
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing (missing)";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}
