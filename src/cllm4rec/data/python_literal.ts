// Parses one Python literal (the repr() lines of old Amazon dumps): dicts, lists, tuples, strings,
// numbers, True/False/None. A hand-written recursive-descent parser; nothing is ever evaluated.

export type PyValue = null | boolean | number | string | PyValue[] | { [key: string]: PyValue };

class PyParseError extends Error {}

class PyParser {
  pos = 0;
  constructor(readonly src: string) {}

  fail(msg: string): never {
    throw new PyParseError(`${msg} at column ${this.pos + 1}`);
  }

  skipSpace(): void {
    while (this.pos < this.src.length) {
      const c = this.src.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.pos++;
      else break;
    }
  }

  value(): PyValue {
    this.skipSpace();
    const c = this.src[this.pos];
    if (c === undefined) this.fail("unexpected end of input");
    if (c === "{") return this.dict();
    if (c === "[") return this.sequence("[", "]");
    if (c === "(") return this.sequence("(", ")");
    if (c === "'" || c === '"') return this.string("");
    if (c === "-" || c === "+" || c === "." || (c >= "0" && c <= "9")) return this.number();
    const word = /^[A-Za-z_]+/.exec(this.src.slice(this.pos, this.pos + 16));
    if (word !== null) {
      const w = word[0];
      const next = this.src[this.pos + w.length];
      if (/^[uUbBrR]{1,2}$/.test(w) && (next === "'" || next === '"')) {
        this.pos += w.length;
        return this.string(w.toLowerCase());
      }
      this.pos += w.length;
      if (w === "True") return true;
      if (w === "False") return false;
      if (w === "None") return null;
      if (w === "nan") return NaN;
      if (w === "inf") return Infinity;
      this.pos -= w.length;
      this.fail(`unexpected name '${w}'`);
    }
    this.fail(`unexpected character '${c}'`);
  }

  dict(): { [key: string]: PyValue } {
    this.pos++;
    const out: { [key: string]: PyValue } = {};
    this.skipSpace();
    if (this.src[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      const key = this.value();
      if (typeof key !== "string" && typeof key !== "number") this.fail("dict key must be a string or a number");
      this.skipSpace();
      if (this.src[this.pos] !== ":") this.fail("expected ':'");
      this.pos++;
      out[String(key)] = this.value();
      this.skipSpace();
      const c = this.src[this.pos];
      this.pos++;
      if (c === "}") return out;
      if (c !== ",") this.fail("expected ',' or '}'");
      this.skipSpace();
      if (this.src[this.pos] === "}") {
        this.pos++;
        return out;
      }
    }
  }

  sequence(open: string, close: string): PyValue[] {
    this.pos++;
    const out: PyValue[] = [];
    this.skipSpace();
    if (this.src[this.pos] === close) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.skipSpace();
      const c = this.src[this.pos];
      this.pos++;
      if (c === close) return out;
      if (c !== ",") this.fail(`expected ',' or '${close}' after element of '${open}'`);
      this.skipSpace();
      if (this.src[this.pos] === close) {
        this.pos++;
        return out;
      }
    }
  }

  number(): number {
    const m = /^[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?[lLjJ]?/.exec(this.src.slice(this.pos, this.pos + 64));
    if (m === null) this.fail("bad number");
    this.pos += m[0].length;
    const text = m[0].replace(/_/g, "").replace(/[lL]$/, "");
    if (/[jJ]$/.test(text)) this.fail("complex numbers are not supported");
    const v = Number(text);
    if (Number.isNaN(v)) this.fail(`bad number '${m[0]}'`);
    return v;
  }

  string(prefix: string): string {
    const quote = this.src[this.pos];
    const triple = this.src.startsWith(quote.repeat(3), this.pos);
    this.pos += triple ? 3 : 1;
    const raw = prefix.includes("r");
    let out = "";
    for (;;) {
      if (this.pos >= this.src.length) this.fail("unterminated string");
      const c = this.src[this.pos];
      if (c === quote && (!triple || this.src.startsWith(quote.repeat(3), this.pos))) {
        this.pos += triple ? 3 : 1;
        break;
      }
      if (c === "\\") {
        const e = this.src[this.pos + 1];
        if (e === undefined) this.fail("unterminated string");
        if (raw) {
          out += c + e;
          this.pos += 2;
          continue;
        }
        this.pos += 2;
        out += this.escape(e);
        continue;
      }
      out += c;
      this.pos++;
    }
    // Adjacent literals concatenate, as in Python ('a' 'b' == 'ab').
    this.skipSpace();
    const next = this.src[this.pos];
    if (next === "'" || next === '"') return out + this.string(prefix);
    return out;
  }

  escape(e: string): string {
    switch (e) {
      case "n":
        return "\n";
      case "t":
        return "\t";
      case "r":
        return "\r";
      case "\\":
        return "\\";
      case "'":
        return "'";
      case '"':
        return '"';
      case "a":
        return "\x07";
      case "b":
        return "\b";
      case "f":
        return "\f";
      case "v":
        return "\v";
      case "0":
      case "1":
      case "2":
      case "3":
      case "4":
      case "5":
      case "6":
      case "7": {
        let digits = e;
        while (digits.length < 3 && /[0-7]/.test(this.src[this.pos] ?? "")) digits += this.src[this.pos++];
        return String.fromCharCode(parseInt(digits, 8));
      }
      case "\n":
        return "";
      case "x":
        return this.hexEscape(2);
      case "u":
        return this.hexEscape(4);
      case "U":
        return this.hexEscape(8);
      default:
        return "\\" + e;
    }
  }

  hexEscape(len: number): string {
    const hex = this.src.slice(this.pos, this.pos + len);
    if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) this.fail(`bad \\x/\\u escape '${hex}'`);
    this.pos += len;
    const code = parseInt(hex, 16);
    if (code > 0x10ffff) this.fail(`code point ${hex} out of range`);
    return String.fromCodePoint(code);
  }
}

/** Parses a whole Python literal; throws an Error naming this function and the column on bad input. */
export function parsePythonLiteral(text: string): PyValue {
  const p = new PyParser(text);
  try {
    const v = p.value();
    p.skipSpace();
    if (p.pos !== text.length) p.fail("trailing characters");
    return v;
  } catch (e) {
    if (e instanceof PyParseError) throw new Error(`parsePythonLiteral (src/cllm4rec/data/python_literal.ts): ${e.message}`);
    throw e;
  }
}
