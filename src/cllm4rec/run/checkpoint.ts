// The run folder's checkpoint: one atomic commit per epoch. The epoch's tensors go into
// fresh, never-overwritten files under checkpoint/; then state.json, which holds the
// training state and the list of those files with their sizes and SHA-256, replaces the
// previous one by one rename. That rename is the commit: before it the previous epoch is
// intact, after it the new one is complete. Files no commit names are leftovers of an
// interrupted epoch and are removed.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { readSafetensors, serializeSafetensors } from "../../io/safetensors";
import { Fields, readRunJson, stringifyRunJson } from "./json";
import { isTempName, makeDir, removeFile, writeAtomic, writeDurable } from "./fs";

export const STATE_FILE = "state.json";
export const CHECKPOINT_DIR = "checkpoint";
export const CHECKPOINT_VERSION = 2;

/** The checkpoint parts: trained tables, Adam moments, and the best epoch of each kind. */
export const PART_NAMES = ["tables", "optimizer", "best-collab", "best-content", "best"] as const;
export type PartName = (typeof PART_NAMES)[number];

export interface StoredFile {
  /** relative to the run folder */
  path: string;
  bytes: number;
  sha256: string;
}

export type NamedArrays = Record<string, { shape: number[]; data: Float32Array }>;

export interface LoadedPart {
  data: Record<string, Float32Array>;
  metadata: Record<string, string>;
}

const sha256 = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex");

/** What a commit records besides the files; validated by the caller that knows its shape. */
export interface Committed<S> {
  epoch: number;
  state: S;
  files: Partial<Record<PartName, StoredFile>>;
}

export class CheckpointStore {
  readonly stateFile: string;
  readonly dir: string;

  constructor(readonly runDir: string) {
    this.stateFile = path.join(runDir, STATE_FILE);
    this.dir = path.join(runDir, CHECKPOINT_DIR);
  }

  exists(): boolean {
    return fs.existsSync(this.stateFile);
  }

  /** Serialises one part into a fresh file for this epoch; nothing refers to it until commit. */
  writePart(name: PartName, epoch: number, tensors: NamedArrays, metadata: Record<string, string>): StoredFile {
    makeDir(this.dir);
    const rel = path.join(CHECKPOINT_DIR, `${name}-e${String(epoch).padStart(4, "0")}.safetensors`);
    const bytes = serializeSafetensors(new Map(Object.entries(tensors)), metadata);
    writeDurable(path.join(this.runDir, rel), bytes);
    return { path: rel, bytes: bytes.length, sha256: sha256(bytes) };
  }

  /** The commit point: state.json (state + file list) replaces the previous one atomically. */
  commit<S>(c: Committed<S>): void {
    writeAtomic(
      this.stateFile,
      stringifyRunJson({ format: "cllm4rec-checkpoint", version: CHECKPOINT_VERSION, epoch: c.epoch, files: c.files, state: c.state }),
    );
    this.removeLeftovers(c.files);
  }

  /**
   * The last commit, structure-checked (the caller validates `state` with parseState);
   * null when the run has no commit yet.
   */
  read<S>(parseState: (f: Fields) => S): Committed<S> | null {
    if (!this.exists()) return null;
    const top = new Fields(this.stateFile, readRunJson(this.stateFile, "checkpoint state"));
    if (top.raw("version") !== CHECKPOINT_VERSION)
      throw top.fail(
        `must be ${CHECKPOINT_VERSION}, got ${JSON.stringify(top.raw("version"))} ` +
          `(a run folder from an older version cannot be resumed; start a new --out)`,
        "version",
      );
    const epoch = top.int("epoch", 0);
    const filesF = top.object("files");
    const files: Partial<Record<PartName, StoredFile>> = {};
    for (const k of filesF.keys()) {
      if (!(PART_NAMES as readonly string[]).includes(k)) throw filesF.fail(`is not a checkpoint part (${PART_NAMES.join(", ")})`, k);
      const f = filesF.object(k);
      const rel = f.string("path");
      if (path.isAbsolute(rel) || path.normalize(rel).startsWith("..") || path.dirname(path.normalize(rel)) !== CHECKPOINT_DIR)
        throw f.fail(`must name a file inside ${CHECKPOINT_DIR}/, got '${rel}'`, "path");
      const sha = f.string("sha256");
      if (!/^[0-9a-f]{64}$/.test(sha)) throw f.fail(`must be 64 hex digits, got '${sha}'`, "sha256");
      files[k as PartName] = { path: rel, bytes: f.int("bytes", 1), sha256: sha };
    }
    for (const need of ["tables", "optimizer"] as const) if (!files[need]) throw filesF.fail("is missing", need);
    return { epoch, files, state: parseState(top.object("state")) };
  }

  /** Reads a committed part, verifying size and checksum, and checks each tensor's shape and values. */
  loadPart(file: StoredFile, expected: Record<string, number[]>): LoadedPart {
    const full = path.join(this.runDir, file.path);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(full);
    } catch (e) {
      throw new Error(
        `checkpoint ${full}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the run folder is damaged`,
      );
    }
    if (bytes.length !== file.bytes || sha256(bytes) !== file.sha256)
      throw new Error(
        `checkpoint ${full}: ${bytes.length !== file.bytes ? `${bytes.length} bytes, ${STATE_FILE} recorded ${file.bytes}` : "SHA-256 differs from the one in " + STATE_FILE}; ` +
          `the file was changed after it was written`,
      );
    return checkTensors(full, readSafetensors(bytes, full), expected);
  }

  /** Removes checkpoint files no commit names and temp files of interrupted writes. */
  removeLeftovers(keep: Partial<Record<PartName, StoredFile>>): string[] {
    const referenced = new Set(Object.values(keep).map((f) => path.normalize(f!.path)));
    const removed: string[] = [];
    if (fs.existsSync(this.dir))
      for (const name of fs.readdirSync(this.dir)) {
        const rel = path.join(CHECKPOINT_DIR, name);
        if (referenced.has(rel)) continue;
        removeFile(path.join(this.runDir, rel));
        removed.push(rel);
      }
    for (const name of fs.readdirSync(this.runDir))
      if (isTempName(name)) {
        removeFile(path.join(this.runDir, name));
        removed.push(name);
      }
    return removed;
  }
}

/** Named float tensors with the expected shapes and finite values, else an error naming the file and tensor. */
export function checkTensors(file: string, st: ReturnType<typeof readSafetensors>, expected: Record<string, number[]>): LoadedPart {
  const data: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(expected)) {
    const t = st.tensors.get(name);
    if (!t) throw new Error(`checkpoint ${file}: missing tensor '${name}'`);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i]))
      throw new Error(
        `checkpoint ${file}: tensor '${name}' has shape [${t.shape.join(", ")}], this model needs [${shape.join(", ")}] ` +
          `(was it trained with another backbone or dataset?)`,
      );
    if (!(t.data instanceof Float32Array)) throw new Error(`checkpoint ${file}: tensor '${name}' is ${t.dtype}, expected F32`);
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0)
      throw new Error(`checkpoint ${file}: tensor '${name}' holds ${t.data[bad]} at element ${bad}; the checkpoint is unusable`);
    data[name] = t.data;
  }
  return { data, metadata: st.metadata };
}

/** Rewrites metrics.jsonl from the committed history (drops lines of an interrupted epoch). */
export function writeMetrics(runDir: string, history: readonly unknown[]): void {
  const line = (h: unknown) => JSON.stringify(h, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v));
  writeAtomic(path.join(runDir, "metrics.jsonl"), history.map(line).join("\n") + (history.length ? "\n" : ""));
}
