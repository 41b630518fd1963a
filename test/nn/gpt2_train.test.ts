// The trainable GPT-2: weight gradients of the LM loss for every parameter against an
// independent float64 PyTorch GPT-2 (test/fixtures/make_gpt2_golden.py, lm-golden) and
// against finite differences; AdamW + clipping + warmup/cosine against three steps of
// torch.optim.AdamW with clip_grad_norm_; the frozen model launches no weight-gradient kernel.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { Tensor, tidy, backward, native, noGrad } from "../../src/engine";
import { Gpt2 } from "../../src/nn/gpt2";
import { lmLoss } from "../../src/nn/lm";
import { Adam } from "../../src/nn/adam";
import { clipGradNorm, gradNorm } from "../../src/nn/clip";
import { cosineLr } from "../../src/nn/schedule";
import { loadGpt2Folder } from "../../src/io/gpt2_folder";
import { readSafetensors } from "../../src/io/safetensors";
import { tinyGpt2Weights } from "../../src/io/tiny_gpt2";

const dir = path.resolve(__dirname, "..", "..", "..", "test", "fixtures", "gpt2_golden");
const folder = loadGpt2Folder(dir);
const golden = readSafetensors(path.join(dir, "golden.safetensors")).tensors;
const lmFile = readSafetensors(path.join(dir, "lm-golden.safetensors"));
const lm = (name: string) => {
  const t = lmFile.tensors.get(name) ?? golden.get(name);
  if (!t) throw new Error(`golden tensor ${name} missing`);
  return t.data as Float32Array | Int32Array;
};
const ids = Int32Array.from(lm("batch.ids"));
const mask = Int32Array.from(lm("batch.mask"));
const [B, T] = [3, 7];

/** max |ours - ref| <= tol * max |ref| (fp32 engine vs float64 reference). */
function close(label: string, ours: ArrayLike<number>, ref: ArrayLike<number>, tol: number): void {
  assert.equal(ours.length, ref.length, `${label}: length`);
  let maxErr = 0,
    maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    assert.ok(Number.isFinite(ours[i]), `${label}: non-finite value at ${i}`);
    maxErr = Math.max(maxErr, Math.abs(ours[i] - ref[i]));
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  assert.ok(maxRef > 0, `${label}: reference is all zero`);
  assert.ok(maxErr <= tol * maxRef, `${label}: max abs error ${maxErr.toExponential(3)} > ${tol} x max |ref| ${maxRef.toExponential(3)}`);
}

test("LM loss and the gradient of every GPT-2 weight match PyTorch (float64 golden)", () => {
  const model = new Gpt2(folder.config, folder.weights, "cpu", { trainable: true });
  try {
    const loss = tidy(() => {
      const l = lmLoss(model, ids, B, T, mask);
      backward(l);
      return l.item();
    });
    assert.ok(Math.abs(loss - lm("lm.loss")[0]) <= 1e-5 * Math.abs(lm("lm.loss")[0]), `loss ${loss} vs ${lm("lm.loss")[0]}`);
    const names = model.namedParameters().map(([n]) => n);
    assert.equal(names.length, 4 + 12 * folder.config.nLayer);
    for (const [name, p] of model.namedParameters()) {
      assert.ok(p.grad, `${name} has no gradient`);
      close(`grad ${name}`, p.grad.toFloat32(), lm(`lm.grad.${name}`), 2e-4);
    }
  } finally {
    model.dispose();
  }
});

test("AdamW + global-norm clipping + warmup/cosine follow torch.optim.AdamW for three steps", () => {
  const o = JSON.parse(lmFile.metadata.optimizer) as Record<string, number>;
  const model = new Gpt2(folder.config, folder.weights, "cpu", { trainable: true });
  const params = model.parameters();
  const noDecay = new Set(params.filter((p) => p.shape.length !== 2));
  const opt = new Adam(params, { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay, noDecay });
  const sched = { lr: o.lr, warmup: o.warmup, totalSteps: o.total_steps, minLr: o.min_lr };
  try {
    for (let step = 1; step <= o.steps; step++) {
      opt.zeroGrad();
      const loss = tidy(() => {
        const l = lmLoss(model, ids, B, T, mask);
        backward(l);
        return l.item();
      });
      const norm = clipGradNorm(params, o.max_norm);
      opt.lr = cosineLr(sched, step);
      opt.step();
      const ref = { loss: lm("opt.loss")[step - 1], norm: lm("opt.grad_norm")[step - 1], lr: lm("opt.lr")[step - 1] };
      assert.ok(Math.abs(loss - ref.loss) <= 2e-4 * ref.loss, `step ${step}: loss ${loss} vs ${ref.loss}`);
      assert.ok(Math.abs(norm - ref.norm) <= 2e-4 * ref.norm, `step ${step}: grad norm ${norm} vs ${ref.norm}`);
      assert.ok(Math.abs(opt.lr - ref.lr) <= 1e-7 * ref.lr, `step ${step}: lr ${opt.lr} vs ${ref.lr}`);
    }
    assert.ok(gradNorm(params) > 0);
    const byName = new Map(model.namedParameters());
    for (const n of ["wte.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight", "h.1.mlp.c_fc.bias", "ln_f.bias"])
      close(`after ${o.steps} steps: ${n}`, byName.get(n)!.toFloat32(), lm(`opt.final.${n}`), 1e-4);
  } finally {
    opt.dispose();
    model.dispose();
  }
});

test("weight gradients of a small GPT-2 match central finite differences", () => {
  const cfg = { vocabSize: 50257, nPositions: 16, nEmbd: 8, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };
  // the tiny-backbone initialiser, at d = 8, with a vocabulary cut to 23 ids to keep the head small
  const w = tinyGpt2Weights({ nLayer: 1, nEmbd: 8, nHead: 2, nPositions: 16, seed: 7 });
  const V = 23;
  w.set("wte.weight", {
    shape: [V, 8],
    data: w
      .get("wte.weight")!
      .data.slice(0, V * 8)
      .map((x) => x * 20),
  });
  // larger weights than the init so that every parameter has a visible effect
  for (const [n, t] of w)
    if (n !== "wte.weight")
      t.data = t.data.map((x, i) => (n.includes("ln_") ? x + 0.3 * Math.sin(i + n.length) : x * 15 + 0.05 * Math.cos(i)));
  const model = new Gpt2({ ...cfg, vocabSize: V }, w, "cpu", { trainable: true });
  const x = Int32Array.from([3, 7, 1, 22, 5, 5, 0, 9, 14, 2, 11, 6]);
  const xm = Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  const f = () => noGrad(() => tidy(() => lmLoss(model, x, 2, 6, xm).item()));
  try {
    tidy(() => backward(lmLoss(model, x, 2, 6, xm)));
    for (const [name, p] of model.namedParameters()) {
      const grad = p.grad!.toFloat32();
      const data = p.toFloat32();
      // a few elements per tensor: the largest-gradient one and spread indices
      let big = 0;
      for (let i = 1; i < grad.length; i++) if (Math.abs(grad[i]) > Math.abs(grad[big])) big = i;
      const picks = [big, 0, Math.floor(grad.length / 3), grad.length - 1];
      for (const i of picks) {
        const h = 1e-2;
        const at = (v: number) => {
          const d = data.slice();
          d[i] = v;
          native().upload(p.buffer, d);
          return f();
        };
        const fd = (at(data[i] + h) - at(data[i] - h)) / (2 * h);
        native().upload(p.buffer, data);
        const tol = 2e-3 + 2e-2 * Math.abs(fd);
        assert.ok(Math.abs(fd - grad[i]) <= tol, `${name}[${i}]: analytic ${grad[i]} vs finite difference ${fd}`);
      }
      assert.ok(Math.abs(grad[big]) > 1e-3, `${name}: gradient is vanishing (${grad[big]}), the check would be empty`);
    }
  } finally {
    model.dispose();
  }
});

test("trainable GPT-2 runs weight-gradient kernels, the frozen one none", () => {
  for (const trainable of [false, true]) {
    const model = new Gpt2(folder.config, folder.weights, "cpu", { trainable });
    // a frozen model's loss has nothing to differentiate: feed it a trainable input instead
    native().resetStats();
    tidy(() => {
      if (trainable) backward(lmLoss(model, ids, B, T, mask));
      else noGrad(() => lmLoss(model, ids, B, T, mask));
    });
    const l = native().stats().launches;
    if (trainable) {
      assert.ok((l.colSum ?? 0) >= 4 * folder.config.nLayer, `bias gradients: ${l.colSum} colSum launches`);
      assert.ok((l.scatterAddRows ?? 0) >= 2, "wte and wpe get scatter-adds");
      for (const p of model.parameters()) assert.ok(p.grad, `${p.name} got no gradient`);
    } else {
      assert.equal(l.colSum ?? 0, 0);
      assert.equal(l.scatterAddRows ?? 0, 0);
      for (const p of model.parameters()) assert.equal(p.grad, null);
    }
    model.dispose();
  }
});

test("cosineLr: warmup, cosine, floor; clipGradNorm scales only above the limit", () => {
  const s = { lr: 1, warmup: 10, totalSteps: 110, minLr: 0.1 };
  assert.equal(cosineLr(s, 5), 0.5);
  assert.equal(cosineLr(s, 10), 1);
  assert.ok(Math.abs(cosineLr(s, 60) - 0.55) < 1e-12);
  assert.ok(Math.abs(cosineLr(s, 110) - 0.1) < 1e-12);
  assert.ok(Math.abs(cosineLr(s, 500) - 0.1) < 1e-12);
  assert.throws(() => cosineLr(s, 0), /step must be >= 1/);
  const p = Tensor.from([3, 4], [2], { requiresGrad: true });
  p.grad = Tensor.from([3, 4], [2]);
  assert.ok(Math.abs(clipGradNorm([p], 10) - 5) < 1e-6);
  assert.deepEqual([...p.grad.toFloat32()], [3, 4]);
  assert.ok(Math.abs(clipGradNorm([p], 1) - 5) < 1e-6);
  const g = p.grad.toFloat32();
  assert.ok(Math.abs(g[0] - 0.6) < 1e-5 && Math.abs(g[1] - 0.8) < 1e-5, `clipped to ${g}`);
  p.dispose();
});
