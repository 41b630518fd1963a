// Reads a Hugging Face GPT-2 model folder: config.json, model.safetensors (or pytorch_model.bin), optional vocab.json + merges.txt.
import * as fs from "node:fs";
import * as path from "node:path";
import { type Gpt2Config, gpt2TensorShapes, parseGpt2Config } from "./gpt2_config";
import { floatData, readSafetensors, type SafeTensor } from "./safetensors";
import { defaultTokenizer, loadBpeTokenizer, type TextTokenizer } from "./tokenizer";
import { readTorchStateDict } from "./torch_bin";

export type { Gpt2Config } from "./gpt2_config";

export interface Gpt2Weight {
  shape: number[];
  data: Float32Array;
}

export interface Gpt2Folder {
  config: Gpt2Config;
  /** Names without the "transformer." prefix, e.g. "h.0.attn.c_attn.weight"; Conv1D weights are [in, out]. */
  weights: Map<string, Gpt2Weight>;
  tokenizer: TextTokenizer;
  /** Where the tokenizer came from: the folder's vocab.json + merges.txt, or the built-in GPT-2 vocabulary. */
  tokenizerSource: "folder" | "builtin";
}

// Saved buffers and the tied LM head carry no weights of their own.
const IGNORED = [/^lm_head\.weight$/, /\.attn\.bias$/, /\.attn\.masked_bias$/];

function readTensors(dir: string): Array<[string, SafeTensor, string]> {
  const single = path.join(dir, "model.safetensors");
  const index = path.join(dir, "model.safetensors.index.json");
  if (fs.existsSync(single)) return [...readSafetensors(single).tensors].map(([n, t]) => [n, t, single]);
  if (fs.existsSync(index)) {
    let map: unknown;
    try {
      map = JSON.parse(fs.readFileSync(index, "utf8")).weight_map;
    } catch (e) {
      throw new Error(`loadGpt2Folder: cannot parse ${index}: ${(e as Error).message}`);
    }
    if (map === null || typeof map !== "object") throw new Error(`loadGpt2Folder: ${index} has no weight_map object`);
    const shards = new Set(Object.values(map as Record<string, unknown>).map(String));
    const out: Array<[string, SafeTensor, string]> = [];
    for (const shard of shards) {
      const file = path.join(dir, path.basename(shard));
      for (const [n, t] of readSafetensors(file).tensors) out.push([n, t, file]);
    }
    return out;
  }
  const bin = path.join(dir, "pytorch_model.bin");
  // the authors' folders hold the PyTorch file; read through the restricted unpickler
  if (fs.existsSync(bin)) return [...readTorchStateDict(bin)].map(([n, t]) => [n, t, bin]);
  throw new Error(`loadGpt2Folder: ${dir} has no model.safetensors (nor pytorch_model.bin)`);
}

/** Loads and checks every GPT-2 weight; a missing, duplicated, unexpected or mis-shaped tensor is an Error naming it. */
export function loadGpt2Folder(dir: string): Gpt2Folder {
  const configPath = path.join(dir, "config.json");
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`loadGpt2Folder: ${dir} is not a folder`);
  if (!fs.existsSync(configPath)) throw new Error(`loadGpt2Folder: ${dir} has no config.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(configPath, "utf8"));
  } catch (e) {
    throw new Error(`loadGpt2Folder: cannot parse ${configPath}: ${(e as Error).message}`);
  }
  const config = parseGpt2Config(raw, configPath);
  const expected = gpt2TensorShapes(config);

  const weights = new Map<string, Gpt2Weight>();
  for (const [stored, t, file] of readTensors(dir)) {
    const name = stored.startsWith("transformer.") ? stored.slice("transformer.".length) : stored;
    if (IGNORED.some((re) => re.test(name))) continue;
    const want = expected.get(name);
    if (want === undefined)
      throw new Error(`loadGpt2Folder: ${file} has unexpected tensor ${JSON.stringify(stored)} (not a GPT-2 weight for this config)`);
    if (weights.has(name)) throw new Error(`loadGpt2Folder: ${file} holds ${JSON.stringify(name)} twice (with and without "transformer.")`);
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new Error(
        `loadGpt2Folder: tensor ${JSON.stringify(stored)} in ${file} has shape [${t.shape.join(", ")}], expected [${want.join(", ")}]`,
      );
    }
    weights.set(name, { shape: t.shape, data: floatData(t, stored) });
  }
  for (const [name, shape] of expected) {
    if (!weights.has(name)) throw new Error(`loadGpt2Folder: ${dir} lacks tensor ${JSON.stringify(name)} of shape [${shape.join(", ")}]`);
  }

  const vocab = path.join(dir, "vocab.json");
  const merges = path.join(dir, "merges.txt");
  if (fs.existsSync(vocab) !== fs.existsSync(merges)) {
    const [has, lacks] = fs.existsSync(vocab) ? [vocab, merges] : [merges, vocab];
    throw new Error(
      `loadGpt2Folder: ${dir} has ${path.basename(has)} but no ${path.basename(lacks)}; a GPT-2 tokenizer needs both (or neither, for the built-in GPT-2 vocabulary)`,
    );
  }
  if (fs.existsSync(vocab) && fs.existsSync(merges)) {
    const tokenizer = loadBpeTokenizer(vocab, merges);
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new Error(`loadGpt2Folder: ${vocab} has ${tokenizer.vocabSize} tokens but config.json vocab_size is ${config.vocabSize}`);
    }
    return { config, weights, tokenizer, tokenizerSource: "folder" };
  }
  // Folders without vocab files (the tiny model, test fixtures) use GPT-2's own vocabulary.
  return { config, weights, tokenizer: defaultTokenizer(), tokenizerSource: "builtin" };
}
