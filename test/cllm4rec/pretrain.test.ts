// `pretrain`: a GPT-2 trained from scratch on text learns it (held-out loss falls far below
// ln V), writes a Hugging Face folder that loadGpt2Folder reads back, resumes exactly,
// and refuses bad input with a clear error.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pretrain, PRETRAIN_DEFAULTS, type PretrainOptions, tokenStreams } from "../../src/cllm4rec/pretrain/pretrain";
import { readTextFile } from "../../src/cllm4rec/pretrain/texts";
import { pretrainOptions } from "../../src/cli/pretrain";
import { parseArgs } from "../../src/cli/flags";
import { loadGpt2Folder } from "../../src/io/gpt2_folder";
import { Gpt2 } from "../../src/nn/gpt2";
import { greedyGenerate } from "../../src/nn/generate";
import { defaultTokenizer } from "../../src/io/tokenizer";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-pretrain-"));
// A tiny, very regular text: one sentence pattern the model can learn in a few dozen steps.
const DOCS = Array.from({ length: 40 }, (_, i) => `the red guitar ${i % 2 ? "sounds warm" : "plays loud"} and the blue drum is quiet.`);
const SMALL: PretrainOptions = {
  ...PRETRAIN_DEFAULTS,
  layers: 1,
  d: 16,
  heads: 2,
  context: 16,
  positions: 32,
  batch: 4,
  maxSteps: 60,
  lr: 1e-2,
  minLr: 1e-3,
  warmup: 5,
  valEvery: 30,
  checkpointEvery: 30,
  seed: 3,
};

test("pretrain learns a regular text and writes a loadable Hugging Face folder", () => {
  const out = tmp();
  const lines: string[] = [];
  try {
    const r = pretrain(DOCS, out, SMALL, { device: "cpu", log: (s) => lines.push(s), progressEveryMs: 0 });
    for (const f of [
      "config.json",
      "model.safetensors",
      "vocab.json",
      "merges.txt",
      "state.json",
      "checkpoint.safetensors",
      "pretrain-log.jsonl",
    ])
      assert.ok(fs.existsSync(path.join(out, f)), `${f} missing`);
    // uniform over 50,257 tokens is 10.825; this text has a handful of distinct tokens
    assert.ok(r.valLoss < 3, `held-out loss ${r.valLoss} did not fall well below ln V`);
    assert.ok(
      lines.some((l) => /tokens\/s/.test(l) && /ETA/.test(l)),
      "progress lines with tokens/s and ETA",
    );
    assert.ok(lines.some((l) => /validation loss .* perplexity/.test(l)));
    const log = fs
      .readFileSync(path.join(out, "pretrain-log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      log.map((e) => e.step),
      [0, 30, 60],
    );
    assert.ok(log[0].valLoss > 10 && log[2].valLoss < log[0].valLoss - 7);
    const folder = loadGpt2Folder(out);
    assert.equal(folder.tokenizerSource, "folder");
    assert.equal(folder.config.nLayer, 1);
    assert.equal(folder.config.nPositions, 32);
    const gpt = new Gpt2(folder.config, folder.weights, "cpu");
    const tok = defaultTokenizer();
    const next = tok.decode(greedyGenerate(gpt, tok.encode("the red guitar sounds warm and the blue"), 2));
    gpt.dispose();
    assert.equal(next, " drum is");
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("pretrain --resume after a crash gives exactly the uninterrupted run's weights", () => {
  const a = tmp(),
    b = tmp();
  const o = { ...SMALL, maxSteps: 8, valEvery: 4, checkpointEvery: 4 };
  try {
    pretrain(DOCS, a, o, { device: "cpu" });
    // crash during step 6: after the step-4 checkpoint, with steps 5 and 6 lost
    assert.throws(
      () =>
        pretrain(DOCS, b, o, {
          device: "cpu",
          progressEveryMs: 0,
          log: (s) => {
            if (s.includes("step 6/8")) throw new Error("simulated crash");
          },
        }),
      /simulated crash/,
    );
    assert.equal(JSON.parse(fs.readFileSync(path.join(b, "state.json"), "utf8")).step, 4);
    assert.throws(() => pretrain(DOCS, b, o, { device: "cpu" }), /already holds a pretraining run.*--resume/);
    const lines: string[] = [];
    pretrain(DOCS, b, o, { device: "cpu", resume: true, log: (s) => lines.push(s) });
    assert.ok(
      lines.some((l) => /resuming .* at step 4\/8/.test(l)),
      lines.join("\n"),
    );
    for (const f of ["model.safetensors", "checkpoint.safetensors"])
      assert.ok(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))), `${f} differs from the uninterrupted run`);
    const steps = (d: string) =>
      fs
        .readFileSync(path.join(d, "pretrain-log.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).step);
    assert.deepEqual(steps(b), steps(a));
    // a different size is refused, naming the flag
    assert.throws(() => pretrain(DOCS, b, { ...o, d: 32 }, { device: "cpu", resume: true }), /--d 32 differs from the saved run's 16/);
  } finally {
    fs.rmSync(a, { recursive: true, force: true });
    fs.rmSync(b, { recursive: true, force: true });
  }
});

test("pretrain: clear errors for missing text, bad sizes and nothing to resume; flags map to options", () => {
  const out = tmp();
  try {
    assert.throws(() => pretrain([], out, SMALL, { device: "cpu" }), /no text/);
    assert.throws(() => pretrain(DOCS, out, { ...SMALL, d: 18, heads: 4 }, { device: "cpu" }), /--d 18 is not divisible by --heads 4/);
    assert.throws(() => pretrain(DOCS, out, { ...SMALL, positions: 8 }, { device: "cpu" }), /--positions 8 is smaller than --context 16/);
    assert.throws(() => pretrain(DOCS, out, SMALL, { device: "cpu", resume: true }), /nothing to resume/);
    assert.throws(() => readTextFile(path.join(out, "absent.txt")), /absent.txt does not exist/);
    fs.writeFileSync(path.join(out, "t.txt"), "first paragraph\nstill first\n\n\nsecond\n");
    assert.deepEqual(readTextFile(path.join(out, "t.txt")), ["first paragraph\nstill first", "second"]);
    const short = tokenStreams(["a b c d e f g h"], defaultTokenizer(), SMALL, () => {});
    assert.ok(short.context <= 4 && short.train.length >= short.context && short.val.length >= short.context);
    const f = parseArgs([
      "pretrain",
      "--out",
      out,
      "--text",
      "t.txt",
      "--layers",
      "1",
      "--d",
      "32",
      "--heads",
      "2",
      "--max-steps",
      "5",
    ]).flags;
    const po = pretrainOptions(f);
    assert.deepEqual([po.layers, po.d, po.heads, po.maxSteps, po.context, po.positions, po.warmup], [1, 32, 2, 5, 128, 1024, 0]);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
