// Locates the read-only real data folder; tests skip when it is absent.
import * as fs from "node:fs";
import * as path from "node:path";

export const repoRoot = path.resolve(__dirname, "..", "..", "..");

export function sharedDataDir(): string | undefined {
  const candidates = [process.env.CLLM4REC_SHARED_DATA, path.resolve(repoRoot, "..", "shared", "data")];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  return undefined;
}

/** Path of a file under the shared data folder, or undefined with the reason to skip. */
export function sharedFile(...rel: string[]): { file?: string; skip?: string } {
  const dir = sharedDataDir();
  if (dir === undefined) return { skip: "shared data folder absent (set CLLM4REC_SHARED_DATA)" };
  const file = path.join(dir, ...rel);
  if (!fs.existsSync(file)) return { skip: `${file} absent` };
  return { file };
}
