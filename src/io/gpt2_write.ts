// Writes a Hugging Face GPT-2 folder (config.json, model.safetensors, vocab.json,
// merges.txt) that loadGpt2Folder, `--model` and transformers' from_pretrained read.
import * as fs from "node:fs";
import * as path from "node:path";
import { type Gpt2Config, gpt2ConfigJson, gpt2TensorShapes } from "./gpt2_config";
import { writeSafetensors } from "./safetensors";
import { writeGpt2VocabFiles } from "./gpt2_vocab_files";

export type Gpt2Weights = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * Every weight of `config` must be present with its shape (names without "transformer.").
 * extraConfig adds fields to config.json (e.g. how the model was made). Each file is
 * written atomically; config.json last, so a folder with a config.json is complete.
 */
export function writeGpt2Folder(dir: string, config: Gpt2Config, weights: Gpt2Weights, extraConfig: Record<string, unknown> = {}): void {
  if (config.vocabSize !== 50257)
    throw new Error(`writeGpt2Folder: only GPT-2's own 50,257-token vocabulary has vocab files here, got vocab_size ${config.vocabSize}`);
  for (const [name, shape] of gpt2TensorShapes(config)) {
    const w = weights.get(name);
    if (!w) throw new Error(`writeGpt2Folder: missing weight '${name}' [${shape.join(", ")}]`);
    if (w.shape.length !== shape.length || w.shape.some((s, i) => s !== shape[i]) || w.data.length !== shape.reduce((a, b) => a * b, 1))
      throw new Error(`writeGpt2Folder: weight '${name}' has shape [${w.shape.join(", ")}], expected [${shape.join(", ")}]`);
  }
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, "model.safetensors"), weights, { format: "pt" });
  writeGpt2VocabFiles(dir);
  const json = { ...gpt2ConfigJson(config), bos_token_id: 50256, eos_token_id: 50256, initializer_range: 0.02, ...extraConfig };
  const file = path.join(dir, "config.json");
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(json, null, 2) + "\n");
  fs.renameSync(tmp, file);
}
