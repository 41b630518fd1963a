// Dropout: the Philox4x32-10 reference against the published known-answer vectors
// (Random123's kat_vectors), keep-rate statistics, the mask as a pure function of
// (seed, site, step, index), finite differences through the op (now the engine's dropout
// kernel), GPT-2 in training vs evaluation mode and the places it drops, and the same mask
// on CUDA as on the CPU.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, tidy, backward, combineLosses, mul, rowSum, mean, native } from "../../src/engine";
import { philox4x32, dropoutMask } from "../../src/nn/philox";
import { dropout } from "../../src/engine";
import { Gpt2 } from "../../src/nn/gpt2";
import { loadGpt2Folder } from "../../src/io/gpt2_folder";
import { skipCuda } from "../cuda/twin";
import { lcg } from "../helpers";
import * as path from "node:path";

const hex = (w: Uint32Array) => Array.from(w, (x) => x.toString(16).padStart(8, "0")).join(" ");

test("philox4x32-10 matches the Random123 known-answer vectors", () => {
  const w = new Uint32Array(4);
  philox4x32(0, 0, 0, 0, 0, 0, w);
  assert.equal(hex(w), "6627e8d5 e169c58d bc57ac4c 9b00dbd8");
  philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, w);
  assert.equal(hex(w), "408f276d 41c83b0e a20bc7c6 6d5451fd");
  philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, w);
  assert.equal(hex(w), "d16cfe09 94fdcceb 5001e420 24126ea1");
});

test("dropout masks: keep rate 1 - p within 4 sigma, kept values 1/(1-p), a pure function of (seed, site, step)", () => {
  const n = 200_003; // not a multiple of 4: the last Philox block is partly used
  for (const p of [0.1, 0.5]) {
    const m = dropoutMask(n, p, { seed: 42, site: 3, step: 7 });
    let kept = 0;
    for (const v of m) {
      if (v !== 0) {
        kept++;
        assert.equal(v, Math.fround(1 / (1 - p)));
      }
    }
    const sigma = Math.sqrt((p * (1 - p)) / n);
    assert.ok(Math.abs(kept / n - (1 - p)) < 4 * sigma, `p=${p}: kept ${kept / n}`);
    assert.deepEqual(dropoutMask(n, p, { seed: 42, site: 3, step: 7 }), m, "same stream, same mask");
    // another step, site or seed: independent masks agree on about p^2 + (1-p)^2 of the elements
    for (const other of [
      { seed: 42, site: 3, step: 8 },
      { seed: 42, site: 4, step: 7 },
      { seed: 43, site: 3, step: 7 },
    ]) {
      const o = dropoutMask(n, p, other);
      let same = 0;
      for (let i = 0; i < n; i++) if ((o[i] === 0) === (m[i] === 0)) same++;
      const want = p * p + (1 - p) * (1 - p);
      assert.ok(Math.abs(same / n - want) < 0.01, `${JSON.stringify(other)}: agreement ${same / n}, independent ${want}`);
    }
  }
  assert.deepEqual(Array.from(dropoutMask(5, 0, { seed: 1, site: 0, step: 0 })), [1, 1, 1, 1, 1]);
  assert.throws(() => dropoutMask(4, 1, { seed: 1, site: 0, step: 0 }), /dropout: p must be in \[0, 1\), got 1/);
});

test("dropout op: forward is x * mask, the tape gradient matches finite differences", () => {
  const R = 5,
    C = 7,
    p = 0.3;
  const stream = { seed: 9, site: 1, step: 2 };
  const rnd = lcg(11);
  const x0 = Array.from({ length: R * C }, () => 2 * rnd() - 1);
  const w = Array.from({ length: R * C }, () => 2 * rnd() - 1);
  const mask = dropoutMask(R * C, p, stream);
  // loss = mean(rowSum(dropout(x) * w)), in float64
  const loss64 = (x: number[]) => x.reduce((s, v, i) => s + v * mask[i] * w[i], 0) / R;
  const x = Tensor.from(x0, [R, C], { requiresGrad: true });
  const wt = Tensor.from(w, [R, C]);
  const value = tidy(() => {
    const y = dropout(x, p, stream);
    assert.deepEqual(
      Array.from(y.toFloat32()),
      x0.map((v, i) => Math.fround(Math.fround(v) * mask[i])),
    );
    const l = combineLosses([[mean(rowSum(mul(y, wt))), 1]]);
    backward(l);
    return l.item();
  });
  assert.ok(Math.abs(value - loss64(x0)) < 1e-5);
  const g = x.grad!.toFloat32();
  const h = 1e-3;
  for (let k = 0; k < x0.length; k++) {
    const up = [...x0],
      dn = [...x0];
    up[k] += h;
    dn[k] -= h;
    const fd = (loss64(up) - loss64(dn)) / (2 * h);
    assert.ok(Math.abs(g[k] - fd) < 1e-4, `d/dx[${k}]: tape ${g[k]} vs fd ${fd}`);
  }
  assert.equal(dropout(x, 0, stream), x, "p = 0 is the identity (no op recorded)");
});

const FIXTURE = path.resolve(__dirname, "..", "..", "..", "test", "fixtures", "gpt2_golden");

test("GPT-2: dropout only when asked (training), deterministic per (seed, site, step), evaluation untouched", () => {
  const folder = loadGpt2Folder(FIXTURE);
  const gpt = new Gpt2(folder.config, folder.weights, "cpu");
  const B = 2,
    T = 5,
    d = folder.config.nEmbd;
  const rnd = lcg(5);
  const x0 = Tensor.from(
    Array.from({ length: B * T * d }, () => 0.1 * (2 * rnd() - 1)),
    [B * T, d],
  );
  const mask = Tensor.from(new Int32Array(B * T).fill(1), [B * T]);
  const run = (drop?: { p: number; seed: number; site: number; step: number }) =>
    tidy(() => gpt.forward(x0, mask, B, T, undefined, drop).hidden.toFloat32());
  const evalA = run(),
    evalB = run({ p: 0, seed: 1, site: 1, step: 1 });
  assert.deepEqual(evalA, evalB, "p = 0 equals no dropout");
  const t1 = run({ p: 0.1, seed: 1, site: 1, step: 1 });
  assert.deepEqual(run({ p: 0.1, seed: 1, site: 1, step: 1 }), t1, "same stream, same output");
  assert.notDeepEqual(t1, evalA);
  assert.notDeepEqual(run({ p: 0.1, seed: 1, site: 1, step: 2 }), t1, "the next step draws new masks");
  gpt.dispose();
});

test("GPT-2: dropout in HF GPT-2's three places (embedding sum, probabilities, residual branches), distinct sites", () => {
  const folder = loadGpt2Folder(FIXTURE);
  const gpt = new Gpt2(folder.config, folder.weights, "cpu");
  const L = folder.config.nLayer,
    B = 1,
    T = 4,
    d = folder.config.nEmbd;
  const x0 = Tensor.from(
    Array.from({ length: B * T * d }, (_, i) => 0.01 * Math.sin(i)),
    [B * T, d],
  );
  const mask = Tensor.from(new Int32Array(B * T).fill(1), [B * T]);
  const nat = native() as unknown as Record<string, (...a: unknown[]) => unknown>;
  const calls: { kernel: string; site: number; threshold: number }[] = [];
  const spy = (kernel: string, siteArg: number) => {
    const real = nat[kernel];
    nat[kernel] = (...a: unknown[]) => {
      calls.push({ kernel, site: a[siteArg] as number, threshold: a[siteArg + 2] as number });
      return real(...a);
    };
    return () => {
      nat[kernel] = real;
    };
  };
  const undo = [spy("dropoutForward", 4), spy("attentionForward", 16)];
  try {
    tidy(() => gpt.forward(x0, mask, B, T, undefined, { p: 0.1, seed: 1, site: 2, step: 3 }));
  } finally {
    for (const u of undo) u();
  }
  const threshold = Math.round(0.1 * 2 ** 24);
  const drops = calls.filter((c) => c.kernel === "dropoutForward"),
    attn = calls.filter((c) => c.kernel === "attentionForward");
  assert.equal(drops.length, 1 + 2 * L, "embedding sum + two residual branches per layer");
  assert.equal(attn.length, L);
  for (const c of calls) assert.equal(c.threshold, threshold, `${c.kernel} drops at p = 0.1`);
  const sites = calls.map((c) => c.site);
  assert.equal(new Set(sites).size, sites.length, "every mask has its own site");
  assert.ok(
    sites.every((s) => s >= 2 * 256 && s < 3 * 256),
    "sites of call 2",
  );
  // evaluation (no dropout): no dropout kernel, attention without a mask
  calls.length = 0;
  const undo2 = [spy("dropoutForward", 4), spy("attentionForward", 16)];
  try {
    tidy(() => gpt.forward(x0, mask, B, T));
  } finally {
    for (const u of undo2) u();
  }
  assert.equal(calls.filter((c) => c.kernel === "dropoutForward").length, 0);
  assert.ok(calls.every((c) => c.threshold === 0));
  gpt.dispose();
});

test("dropout on CUDA gives the CPU's output bit for bit", { skip: skipCuda }, () => {
  const n = 4099,
    p = 0.1,
    stream = { seed: 3, site: 2, step: 5 };
  const rnd = lcg(2);
  const x = Array.from({ length: n }, () => 2 * rnd() - 1);
  const cpu = tidy(() => dropout(Tensor.from(x, [n]), p, stream).toFloat32());
  const gpu = tidy(() => dropout(Tensor.from(x, [n], { device: "cuda" }), p, stream).toFloat32());
  assert.deepEqual(gpu, cpu);
});
