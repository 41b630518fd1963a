// A restricted unpickler: reads the data subset of Python's pickle (protocols 0–5: None,
// bools, ints, floats, str, bytes, tuples, lists, dicts) and resolves a global only when the
// caller's allow-list names it, mapping it to a TypeScript function of ours. Nothing from
// the file is ever executed: an unknown opcode or global is an Error naming it and its offset.

/** What REDUCE may call: an allow-listed global, implemented here in TypeScript. */
export type PyCallable = (args: PyValue[]) => PyValue;

/** Python values as read: tuples and lists are arrays, dicts are Maps, bytes are Uint8Arrays. */
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | Map<PyValue, PyValue> | PyGlobal | object;

/** A resolved global ("module.name"); calling it runs `call`, never Python. */
export class PyGlobal {
  constructor(
    readonly name: string,
    readonly call?: PyCallable,
  ) {}
}

export interface UnpickleOptions {
  /** "module.name" -> the value or callable it stands for; every other global is refused */
  globals?: Record<string, PyGlobal>;
  /** BINPERSID: the persistent id (e.g. a PyTorch storage tuple) -> the object it names */
  persistentLoad?: (pid: PyValue) => PyValue;
  /** BUILD on an object we made (e.g. an OrderedDict's _metadata): what to do with the state; default ignore */
  build?: (obj: PyValue, state: PyValue) => void;
  source?: string;
}

const MARK = Symbol("mark");

/** Decodes one pickle from `bytes` starting at `offset`; returns the value and where it ended. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions = {}, offset = 0): { value: PyValue; end: number } {
  const src = opts.source ?? "<buffer>";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let p = offset;
  let at = p; // offset of the opcode being decoded, for messages
  const fail = (msg: string): never => {
    throw new Error(`unpickle(${src}): ${msg} (opcode at byte ${at})`);
  };
  const need = (k: number) => {
    if (p + k > n) fail(`truncated: needs ${k} more byte(s)`);
  };
  const u8 = () => {
    need(1);
    return bytes[p++];
  };
  const u16 = () => {
    need(2);
    p += 2;
    return view.getUint16(p - 2, true);
  };
  const u32 = () => {
    need(4);
    p += 4;
    return view.getUint32(p - 4, true);
  };
  const i32 = () => {
    need(4);
    p += 4;
    return view.getInt32(p - 4, true);
  };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(n)) fail(`length ${v} exceeds the ${n}-byte input`);
    return Number(v);
  };
  const take = (k: number) => {
    need(k);
    p += k;
    return bytes.subarray(p - k, p);
  };
  const line = () => {
    const e = bytes.indexOf(0x0a, p);
    if (e < 0) fail("truncated: missing end of line");
    const s = new TextDecoder("utf-8").decode(bytes.subarray(p, e));
    p = e + 1;
    return s;
  };
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const text = (b: Uint8Array) => {
    try {
      return utf8.decode(b);
    } catch {
      return fail("string is not valid UTF-8");
    }
  };

  const stack: (PyValue | typeof MARK)[] = [];
  const memo = new Map<number, PyValue>();
  const pop = (): PyValue => {
    if (stack.length === 0) fail("stack underflow");
    const v = stack.pop()!;
    if (v === MARK) fail("unexpected mark");
    return v as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) fail("stack underflow");
    return stack[stack.length - 1] as PyValue;
  };
  const popMark = (): PyValue[] => {
    const k = stack.lastIndexOf(MARK);
    if (k < 0) fail("no mark on the stack");
    const items = stack.splice(k) as PyValue[];
    items.shift();
    return items;
  };
  const asList = (v: PyValue, op: string): PyValue[] => (Array.isArray(v) ? v : fail(`${op} on a ${typeName(v)}, not a list`));
  const asDict = (v: PyValue, op: string): Map<PyValue, PyValue> => (v instanceof Map ? v : fail(`${op} on a ${typeName(v)}, not a dict`));
  const setItems = (d: Map<PyValue, PyValue>, kv: PyValue[]) => {
    if (kv.length % 2) fail("odd number of items for a dict");
    for (let k = 0; k < kv.length; k += 2) d.set(hashable(kv[k]), kv[k + 1]);
  };
  const global = (name: string): PyGlobal => {
    const g = opts.globals?.[name];
    if (!g) fail(`global ${name} is not allowed (allowed: ${Object.keys(opts.globals ?? {}).join(", ") || "none"})`);
    return g!;
  };
  const memoPut = (k: number) => memo.set(k, top());
  const memoGet = (k: number) => (memo.has(k) ? memo.get(k)! : fail(`memo entry ${k} was never stored`));
  const int = (b: Uint8Array): number | bigint => {
    // little-endian two's complement of any length (LONG1 / LONG4)
    if (b.length === 0) return 0;
    let v = 0n;
    for (let k = b.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    at = p;
    const op = u8();
    switch (op) {
      case 0x80: {
        // PROTO
        const v = u8();
        if (v > 5) fail(`pickle protocol ${v} is newer than 5`);
        break;
      }
      case 0x95:
        u64();
        break; // FRAME: a length hint only
      case 0x2e:
        return { value: pop(), end: p }; // STOP
      case 0x28:
        stack.push(MARK);
        break;
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x8a:
        stack.push(int(take(u8())));
        break; // LONG1
      case 0x8b: {
        // LONG4
        const k = i32();
        if (k < 0) fail("negative LONG4 length");
        stack.push(int(take(k)));
        break;
      }
      case 0x49: {
        // INT (protocol 0 text)
        const s = line();
        if (s === "01" || s === "00") stack.push(s === "01");
        else if (/^-?\d+$/.test(s)) stack.push(Number(s));
        else fail(`INT ${JSON.stringify(s)} is not an integer`);
        break;
      }
      case 0x47:
        need(8);
        stack.push(view.getFloat64(p, false));
        p += 8;
        break; // BINFLOAT (big-endian)
      case 0x58:
        stack.push(text(take(u32())));
        break; // BINUNICODE
      case 0x8c:
        stack.push(text(take(u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(text(take(u64())));
        break; // BINUNICODE8
      case 0x55:
        stack.push(new TextDecoder("latin1").decode(take(u8())));
        break; // SHORT_BINSTRING (py2 str)
      case 0x54: {
        // BINSTRING
        const k = i32();
        if (k < 0) fail("negative BINSTRING length");
        stack.push(new TextDecoder("latin1").decode(take(k)));
        break;
      }
      case 0x43:
        stack.push(new Uint8Array(take(u8())));
        break; // SHORT_BINBYTES
      case 0x42:
        stack.push(new Uint8Array(take(u32())));
        break; // BINBYTES
      case 0x8e:
        stack.push(new Uint8Array(take(u64())));
        break; // BINBYTES8
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x74:
        stack.push(popMark());
        break; // TUPLE
      case 0x85:
        stack.push([pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = pop(),
          a = pop();
        stack.push([a, b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop(),
          b = pop(),
          a = pop();
        stack.push([a, b, c]);
        break;
      } // TUPLE3
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x61: {
        const v = pop();
        asList(top(), "APPEND").push(v);
        break;
      }
      case 0x65: {
        const items = popMark();
        asList(top(), "APPENDS").push(...items);
        break;
      }
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x64: {
        const d = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      } // DICT
      case 0x73: {
        const v = pop(),
          k = pop();
        asDict(top(), "SETITEM").set(hashable(k), v);
        break;
      }
      case 0x75: {
        const kv = popMark();
        setItems(asDict(top(), "SETITEMS"), kv);
        break;
      }
      case 0x71:
        memoPut(u8());
        break; // BINPUT
      case 0x72:
        memoPut(u32());
        break; // LONG_BINPUT
      case 0x94:
        memoPut(memo.size);
        break; // MEMOIZE
      case 0x68:
        stack.push(memoGet(u8()));
        break; // BINGET
      case 0x6a:
        stack.push(memoGet(u32()));
        break; // LONG_BINGET
      case 0x63: {
        // GLOBAL "module\nname\n"
        const mod = line(),
          name = line();
        stack.push(global(`${mod}.${name}`));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop(),
          mod = pop();
        if (typeof mod !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(global(`${mod}.${name}`));
        break;
      }
      case 0x52: {
        // REDUCE: only our own implementations of allow-listed globals run
        const args = pop(),
          fn = pop();
        if (!(fn instanceof PyGlobal) || !fn.call)
          fail(`REDUCE on ${fn instanceof PyGlobal ? fn.name : typeName(fn)}, which is not an allowed callable`);
        if (!Array.isArray(args)) fail(`REDUCE arguments are a ${typeName(args)}, not a tuple`);
        try {
          stack.push((fn as PyGlobal).call!(args as PyValue[]));
        } catch (e) {
          fail(`${(fn as PyGlobal).name}: ${(e as Error).message}`);
        }
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (opts.build) opts.build(obj, state);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail("persistent ids are not expected in this file");
        try {
          stack.push(opts.persistentLoad!(pid));
        } catch (e) {
          fail(`persistent id: ${(e as Error).message}`);
        }
        break;
      }
      default:
        fail(`opcode 0x${op.toString(16).padStart(2, "0")} (${JSON.stringify(String.fromCharCode(op))}) is not allowed`);
    }
  }
}

/** Dict keys: strings and numbers compare by value in a Map; tuples by their printed form. */
function hashable(k: PyValue): PyValue {
  return Array.isArray(k) ? JSON.stringify(k, (_, v) => (typeof v === "bigint" ? String(v) : v)) : k;
}

export function typeName(v: unknown): string {
  if (v === null) return "None";
  if (Array.isArray(v)) return "tuple/list";
  if (v instanceof Map) return "dict";
  if (v instanceof Uint8Array) return "bytes";
  if (v instanceof PyGlobal) return `global ${v.name}`;
  return typeof v;
}
