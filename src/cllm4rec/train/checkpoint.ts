// Run files on disk. Every file is written atomically (temp + rename) and state.json is
// written last, so a crash leaves the previous complete epoch intact.
import * as fs from "node:fs";
import * as path from "node:path";
import { Tensor } from "../../engine";
import { readSafetensors, writeSafetensors, floatData } from "../../io/safetensors";

export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  fs.renameSync(tmp, file);
}

export function appendJsonl(file: string, value: unknown): void {
  fs.appendFileSync(file, JSON.stringify(value) + "\n");
}

/** Saves named tensors (copied to the host) as safetensors with string metadata. */
export function saveTensors(file: string, tensors: Record<string, Tensor | Float32Array>, shapes: Record<string, number[]>,
  metadata: Record<string, string>): void {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(tensors)) {
    const data = t instanceof Tensor ? t.toFloat32() : t;
    out.set(name, { shape: shapes[name], data });
  }
  writeSafetensors(file, out, metadata);
}

/** Loads named float tensors, checking each exists with the expected shape. */
export function loadTensors(file: string, expected: Record<string, number[]>): { data: Record<string, Float32Array>; metadata: Record<string, string> } {
  if (!fs.existsSync(file)) throw new Error(`checkpoint ${file} does not exist`);
  const st = readSafetensors(file);
  const data: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(expected)) {
    const t = st.tensors.get(name);
    if (!t) throw new Error(`checkpoint ${file}: missing tensor '${name}'`);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i]))
      throw new Error(`checkpoint ${file}: tensor '${name}' has shape [${t.shape.join(", ")}], this model needs [${shape.join(", ")}] ` +
        `(was it trained with another backbone or dataset?)`);
    data[name] = floatData(t, name);
  }
  return { data, metadata: st.metadata };
}

export function ensureDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
}

export function runFile(dir: string, name: string): string {
  return path.join(dir, name);
}
