import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadGpt2Folder } from "../../src/io/gpt2_folder";
import { exactLn, fnv1a } from "../../src/io/prng";
import { createTinyGpt2Folder, ensureTinyModel } from "../../src/io/tiny_gpt2";

const sha = (f: string) => crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");
const small = { nLayer: 2, nEmbd: 16, nHead: 2, nPositions: 32, seed: 7 };

// Reference mulberry32 in BigInt arithmetic mod 2^32 (independent of Math.imul tricks).
function refMulberry(seed: number): () => number {
  const M = 1n << 32n;
  let s = BigInt(seed >>> 0);
  const imul = (a: bigint, b: bigint) => (a * b) % M;
  return () => {
    s = (s + 0x6d2b79f5n) % M;
    let t = s;
    t = imul(t ^ (t >> 15n), t | 1n);
    t = (t ^ ((t + imul(t ^ (t >> 7n), t | 61n)) % M)) % M;
    return Number(t ^ (t >> 14n));
  };
}

function refNormals(seed: number, n: number): number[] {
  const next = refMulberry(seed);
  const uniform = () => (Math.floor(next() / 32) * 2 ** 26 + Math.floor(next() / 64)) / 2 ** 53;
  const out: number[] = [];
  while (out.length < n) {
    const x = 2 * uniform() - 1;
    const y = 2 * uniform() - 1;
    const s = x * x + y * y;
    if (s >= 1 || s === 0) continue;
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    out.push(x * f, y * f);
  }
  return out.slice(0, n);
}

test("exactLn agrees with Math.log to ~1 ulp", () => {
  for (const x of [1e-300, 1e-10, 0.001, 0.1, 0.5, 0.75, 0.999999, 1, 1.5, 2, 3, 10, 12345.678]) {
    const want = Math.log(x);
    assert.ok(Math.abs(exactLn(x) - want) <= 4e-16 * Math.max(1, Math.abs(want)), `ln(${x}) = ${exactLn(x)}, Math.log = ${want}`);
  }
});

test("tiny weights follow the documented init and the reference PRNG", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tiny-"));
  createTinyGpt2Folder(dir, small);
  const m = loadGpt2Folder(dir);
  assert.equal(m.config.vocabSize, 50257);
  assert.equal(m.tokenizerSource, "builtin");
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  assert.match(cfg.cllm4rec_tokenizer, /builtin GPT-2 vocabulary/);
  for (const name of ["wte.weight", "h.1.attn.c_attn.weight", "h.0.mlp.c_proj.weight"]) {
    const std = name.endsWith("c_proj.weight") ? 0.02 / Math.sqrt(4) : 0.02;
    const want = refNormals(fnv1a(name, small.seed), 6);
    const got = m.weights.get(name)!.data;
    want.forEach((z, i) => {
      assert.ok(Math.abs(got[i] - Math.fround(std * z)) <= 1e-9, `${name}[${i}] = ${got[i]}, want ${std * z}`);
    });
  }
  assert.ok(m.weights.get("h.0.ln_1.weight")!.data.every((v) => v === 1));
  assert.ok(m.weights.get("ln_f.bias")!.data.every((v) => v === 0));
  assert.ok(m.weights.get("h.1.mlp.c_fc.bias")!.data.every((v) => v === 0));
  const wte = m.weights.get("wte.weight")!.data;
  const sd = Math.sqrt(wte.reduce((a, v) => a + v * v, 0) / wte.length);
  assert.ok(Math.abs(sd - 0.02) < 0.0005, `wte std ${sd}`);
  fs.rmSync(dir, { recursive: true });
});

test("same options give identical bytes; another seed does not", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "tiny-"));
  createTinyGpt2Folder(path.join(root, "a"), small);
  createTinyGpt2Folder(path.join(root, "b"), small);
  createTinyGpt2Folder(path.join(root, "c"), { ...small, seed: 8 });
  for (const f of ["config.json", "model.safetensors"]) assert.equal(sha(path.join(root, "a", f)), sha(path.join(root, "b", f)), f);
  assert.notEqual(sha(path.join(root, "a", "model.safetensors")), sha(path.join(root, "c", "model.safetensors")));
  assert.throws(
    () => createTinyGpt2Folder(path.join(root, "d"), { nEmbd: 10, nHead: 3 }),
    /createTinyGpt2Folder: nEmbd 10 is not divisible by nHead 3/,
  );
  fs.rmSync(root, { recursive: true });
});

test("ensureTinyModel creates once and reuses", () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "tiny-cache-"));
  const a = ensureTinyModel(cache, small);
  assert.match(path.basename(a), /^tiny-gpt2-[0-9a-f]{16}$/);
  const before = fs.statSync(path.join(a, "model.safetensors")).mtimeMs;
  assert.equal(ensureTinyModel(cache, small), a);
  assert.equal(fs.statSync(path.join(a, "model.safetensors")).mtimeMs, before);
  assert.notEqual(ensureTinyModel(cache, { ...small, seed: 9 }), a);
  assert.deepEqual(
    fs.readdirSync(cache).filter((n) => n.startsWith(".")),
    [],
  ); // no temp folders left
  assert.equal(loadGpt2Folder(a).config.nEmbd, 16);
  fs.rmSync(cache, { recursive: true });
});
