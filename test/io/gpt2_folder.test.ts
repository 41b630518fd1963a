import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadGpt2Folder } from "../../src/io/gpt2_folder";
import { readSafetensors, writeSafetensors, type TensorToWrite } from "../../src/io/safetensors";
import { createTinyGpt2Folder } from "../../src/io/tiny_gpt2";
import { repoRoot, sharedFile } from "./shared_data";

const FIXTURE = path.join(repoRoot, "test", "fixtures", "gpt2_golden");

function copyFixture(edit: (t: Map<string, TensorToWrite>) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpt2-folder-"));
  fs.copyFileSync(path.join(FIXTURE, "config.json"), path.join(dir, "config.json"));
  const tensors = new Map<string, TensorToWrite>(readSafetensors(path.join(FIXTURE, "model.safetensors")).tensors);
  edit(tensors);
  writeSafetensors(path.join(dir, "model.safetensors"), tensors, { format: "pt" });
  return dir;
}

test("loads the golden fixture: config, prefix-free names, F16 weights match PyTorch x0", () => {
  const m = loadGpt2Folder(FIXTURE);
  assert.deepEqual(m.config, {
    vocabSize: 97,
    nPositions: 64,
    nEmbd: 128,
    nLayer: 2,
    nHead: 2,
    layerNormEpsilon: 1e-5,
    activation: "gelu_new",
  });
  assert.equal(m.weights.size, 2 + 12 * 2 + 2);
  assert.deepEqual(m.weights.get("h.1.attn.c_attn.weight")!.shape, [128, 384]);
  assert.deepEqual(m.weights.get("h.0.mlp.c_proj.weight")!.shape, [512, 128]);
  assert.ok(m.weights.get("wte.weight")!.data instanceof Float32Array);
  assert.equal(m.tokenizerSource, "builtin");
  // PyTorch's x0 = wte[ids] + wpe[t] must equal the same sum over our loaded weights.
  const g = readSafetensors(path.join(FIXTURE, "golden.safetensors")).tensors;
  const ids = g.get("batch.ids")!.data;
  const x0 = g.get("batch.x0")!.data;
  const wte = m.weights.get("wte.weight")!.data;
  const wpe = m.weights.get("wpe.weight")!.data;
  let checked = 0;
  for (let b = 0; b < 3; b++) {
    for (let t = 0; t < 7; t++) {
      const id = ids[b * 7 + t];
      for (let k = 0; k < 128; k++) {
        assert.ok(Math.abs(x0[(b * 7 + t) * 128 + k] - (wte[id * 128 + k] + wpe[t * 128 + k])) < 1e-6);
        checked++;
      }
    }
  }
  assert.equal(checked, 3 * 7 * 128);
});

test('names without "transformer." and ignorable extras load identically', () => {
  const dir = copyFixture((t) => {
    for (const [name, v] of [...t]) {
      t.delete(name);
      t.set(name.replace(/^transformer\./, ""), v);
    }
    t.set("lm_head.weight", { shape: [97, 128], data: new Float32Array(97 * 128) });
    t.set("h.0.attn.bias", { shape: [1, 1, 64, 64], data: new Float32Array(64 * 64) });
    t.set("h.1.attn.masked_bias", { shape: [], data: new Float32Array([-1e4]) });
  });
  const a = loadGpt2Folder(FIXTURE);
  const b = loadGpt2Folder(dir);
  assert.deepEqual([...b.weights.keys()].sort(), [...a.weights.keys()].sort());
  for (const [name, w] of a.weights) assert.deepEqual(b.weights.get(name)!.data, w.data, name);
  fs.rmSync(dir, { recursive: true });
});

test("missing, renamed, mis-shaped and duplicated tensors are named in the error", () => {
  const cases: Array<[(t: Map<string, TensorToWrite>) => void, RegExp]> = [
    [(t) => t.delete("transformer.h.1.mlp.c_fc.bias"), /lacks tensor "h\.1\.mlp\.c_fc\.bias" of shape \[512\]/],
    [
      (t) => {
        t.set("transformer.h.0.ln_2.gamma", t.get("transformer.h.0.ln_2.weight")!);
        t.delete("transformer.h.0.ln_2.weight");
      },
      /unexpected tensor "transformer\.h\.0\.ln_2\.gamma"/,
    ],
    [
      (t) => t.set("transformer.h.0.attn.c_attn.weight", { shape: [384, 128], data: new Float32Array(384 * 128) }),
      /tensor "transformer\.h\.0\.attn\.c_attn\.weight" .* has shape \[384, 128\], expected \[128, 384\]/,
    ],
    [
      (t) => t.set("transformer.wpe.weight", { shape: [64 * 128], data: new Float32Array(64 * 128) }),
      /"transformer\.wpe\.weight" .* has shape \[8192\], expected \[64, 128\]/,
    ],
    [(t) => t.set("ln_f.bias", t.get("transformer.ln_f.bias")!), /holds "ln_f\.bias" twice/],
    [(t) => t.set("transformer.ln_f.bias", { shape: [128], data: new Int32Array(128) }), /"transformer\.ln_f\.bias" is I32/],
  ];
  for (const [edit, pattern] of cases) {
    const dir = copyFixture(edit);
    assert.throws(
      () => loadGpt2Folder(dir),
      (e: unknown) => e instanceof Error && /loadGpt2Folder|safetensors/.test(e.message) && pattern.test(e.message),
    );
    fs.rmSync(dir, { recursive: true });
  }
});

test("folder-level problems: no folder, no config, only pytorch_model.bin, bad config", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpt2-folder-"));
  assert.throws(() => loadGpt2Folder(path.join(dir, "nope")), /loadGpt2Folder: .*nope is not a folder/);
  assert.throws(() => loadGpt2Folder(dir), /has no config\.json/);
  fs.copyFileSync(path.join(FIXTURE, "config.json"), path.join(dir, "config.json"));
  assert.throws(() => loadGpt2Folder(dir), /has no model\.safetensors/);
  fs.writeFileSync(path.join(dir, "pytorch_model.bin"), "x");
  // a pytorch_model.bin is read when no safetensors file is there; a broken one is a clear error
  assert.throws(
    () => loadGpt2Folder(dir),
    /readTorchStateDict\(.*pytorch_model\.bin\): neither a zip archive nor a legacy torch\.save file/,
  );
  fs.writeFileSync(path.join(dir, "config.json"), '{"vocab_size": 97');
  assert.throws(() => loadGpt2Folder(dir), /cannot parse .*config\.json/);
  fs.rmSync(dir, { recursive: true });
});

test("folder vocab.json + merges.txt become the tokenizer (shared GPT-2 files)", (t) => {
  const enc = sharedFile("gpt2-tokenizer", "encoder.json");
  const bpe = sharedFile("gpt2-tokenizer", "vocab.bpe");
  if (!enc.file || !bpe.file) {
    t.skip(enc.skip ?? bpe.skip);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpt2-tok-"));
  createTinyGpt2Folder(dir, { nLayer: 1, nEmbd: 8, nHead: 2, nPositions: 16 });
  fs.symlinkSync(enc.file, path.join(dir, "vocab.json"));
  fs.symlinkSync(bpe.file, path.join(dir, "merges.txt"));
  const m = loadGpt2Folder(dir);
  assert.equal(m.tokenizerSource, "folder");
  assert.deepEqual(m.tokenizer.encode("Hello world"), [15496, 995]);
  // The 97-token fixture cannot use a 50,257-token vocabulary.
  const small = copyFixture(() => {});
  fs.symlinkSync(enc.file, path.join(small, "vocab.json"));
  fs.symlinkSync(bpe.file, path.join(small, "merges.txt"));
  assert.throws(() => loadGpt2Folder(small), /has 50257 tokens but config\.json vocab_size is 97/);
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(small, { recursive: true });
});
