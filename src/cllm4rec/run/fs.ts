// Every change a run makes to its folder goes through these few functions: durable writes
// (fsync'd), atomic renames, removals. One place to count operations lets the crash test
// stop the process at the Nth one: CLLM4REC_FAULT=MODE:N with MODE
//   kill  - do operation N, then SIGKILL (a crash after every write/rename in turn)
//   torn  - write half of operation N's bytes, then SIGKILL (a crash in the middle of a write)
//   enospc / eio - operation N fails as a full disk / an I/O error would (enospc leaves a partial file)
// CLLM4REC_FAULT_LOG=FILE appends "N kind path" for every operation (to enumerate them).
import * as fs from "node:fs";
import * as path from "node:path";

type OpKind = "write" | "rename" | "remove" | "mkdir";
type FaultMode = "kill" | "torn" | "enospc" | "eio";

let ops = 0;
let fault: { mode: FaultMode; at: number } | null | undefined;

function activeFault(): { mode: FaultMode; at: number } | null {
  if (fault !== undefined) return fault;
  const v = process.env.CLLM4REC_FAULT;
  fault = null;
  if (v) {
    const m = /^(kill|torn|enospc|eio):(\d+)$/.exec(v);
    if (!m) throw new Error(`CLLM4REC_FAULT must be kill|torn|enospc|eio:N, got '${v}'`);
    fault = { mode: m[1] as FaultMode, at: Number(m[2]) };
  }
  return fault;
}

function ioError(code: "ENOSPC" | "EIO", what: string): NodeJS.ErrnoException {
  const msg = code === "ENOSPC" ? "no space left on device" : "i/o error";
  const e = new Error(`${code}: ${msg}, ${what}`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** Counts one operation; returns the fault to apply to it, if any. */
function count(kind: OpKind, target: string): FaultMode | null {
  ops++;
  if (process.env.CLLM4REC_FAULT_LOG) fs.appendFileSync(process.env.CLLM4REC_FAULT_LOG, `${ops} ${kind} ${target}\n`);
  const f = activeFault();
  return f && f.at === ops ? f.mode : null;
}

function die(): never {
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable: SIGKILL did not stop the process");
}

function after(mode: FaultMode | null): void {
  if (mode === "kill") die();
}

function syncDir(dir: string): void {
  // the rename itself is only durable once the folder's entry is on disk
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on a folder; the rename is still atomic
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes the whole file and fsyncs it (no rename: callers write fresh names or use writeAtomic). */
export function writeDurable(file: string, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const mode = count("write", file);
  if (mode === "eio") throw ioError("EIO", `write '${file}'`);
  const fd = fs.openSync(file, "w");
  try {
    const limit = mode === "torn" || mode === "enospc" ? bytes.length >> 1 : bytes.length;
    let done = 0;
    while (done < limit) done += fs.writeSync(fd, bytes, done, limit - done);
    if (mode === "torn") die();
    if (mode === "enospc") throw ioError("ENOSPC", `write '${file}'`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  after(mode);
}

export function renameDurable(from: string, to: string): void {
  const mode = count("rename", to);
  if (mode === "eio" || mode === "enospc") throw ioError(mode === "eio" ? "EIO" : "ENOSPC", `rename '${from}' -> '${to}'`);
  fs.renameSync(from, to);
  syncDir(path.dirname(to));
  after(mode === "torn" ? "kill" : mode);
}

/** Temp name in the same folder, fsync, rename: a reader sees the old file or the new one. */
export function writeAtomic(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeDurable(tmp, data);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  renameDurable(tmp, file);
}

export function removeFile(file: string): void {
  if (!fs.existsSync(file)) return;
  const mode = count("remove", file);
  if (mode === "eio" || mode === "enospc") throw ioError(mode === "eio" ? "EIO" : "ENOSPC", `remove '${file}'`);
  fs.rmSync(file, { force: true });
  after(mode === "torn" ? "kill" : mode);
}

export function makeDir(dir: string): void {
  if (fs.existsSync(dir)) return;
  const mode = count("mkdir", dir);
  if (mode === "eio" || mode === "enospc") throw ioError(mode === "eio" ? "EIO" : "ENOSPC", `mkdir '${dir}'`);
  fs.mkdirSync(dir, { recursive: true });
  after(mode === "torn" ? "kill" : mode);
}

/** Leftover temp files of writeAtomic (a crash between write and rename): `<name>.tmp-<pid>`. */
export function isTempName(name: string): boolean {
  return /\.tmp-\d+$/.test(name) || /^\..*\.tmp-/.test(name);
}
