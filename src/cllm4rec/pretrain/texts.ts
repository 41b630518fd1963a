// Text for pretraining a backbone: a dataset's training-split texts (item descriptions,
// user profiles, reviews of training pairs) and plain text files.
import * as fs from "node:fs";
import type { Dataset } from "../data";

/** Item texts, user texts and training reviews, in that order (validation/test reviews never reach a Dataset). */
export function datasetTexts(ds: Dataset): string[] {
  const out: string[] = [];
  for (const t of ds.itemText) if (t?.trim()) out.push(t);
  for (const t of ds.userText) if (t?.trim()) out.push(t);
  for (const r of ds.reviews) if (r.text.trim()) out.push(r.text);
  return out;
}

/** Documents of a UTF-8 text file: paragraphs separated by blank lines. */
export function readTextFile(file: string): string[] {
  if (!fs.existsSync(file)) throw new Error(`pretrain --text: ${file} does not exist`);
  if (!fs.statSync(file).isFile()) throw new Error(`pretrain --text: ${file} is not a file`);
  const text = fs.readFileSync(file, "utf8");
  if (text.includes("\u0000")) throw new Error(`pretrain --text: ${file} looks binary (contains NUL bytes); give UTF-8 text`);
  return text
    .split(/\r?\n\s*\r?\n/)
    .map((p) => p.trim())
    .filter(Boolean);
}
