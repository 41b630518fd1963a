// Autograd wiring through the whole model: analytic gradients of the CLLM4Rec losses
// with respect to the user/item tables against central finite differences; frozen
// weights get no gradient kernels; a long loop does not grow memory; bad input errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tidy,
  backward,
  native,
  linear,
  embedTokens,
  selectRows,
  noGrad,
  mul,
  add,
  matmul,
  mean,
  combineLosses,
  zeroGrad,
  reshape,
} from "../../src/engine";
import { record } from "../../src/engine/autograd";
import { Gpt2 } from "../../src/nn/gpt2";
import { Cllm4RecModel } from "../../src/cllm4rec/model/model";
import type { PromptMainBatch } from "../../src/cllm4rec/model/batch_layout";
import { lcg, randomGpt2Weights } from "../helpers";

const cfg = { vocabSize: 23, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
const I = 3,
  J = 5;
const N = cfg.vocabSize;
const U = (i: number) => N + i,
  V = (j: number) => N + I + j;

function makeModel(seed = 1) {
  const gpt = new Gpt2(cfg, randomGpt2Weights(cfg, seed), "cpu");
  const model = new Cllm4RecModel(gpt, { numUsers: I, numItems: J }, lcg(seed + 7));
  // larger embeddings make finite differences well above float32 round-off
  for (const t of model.parameters()) {
    const src = Tensor.from(
      t.toFloat32().map((x, i) => x * 20 + Math.sin(i)),
      t.shape,
    );
    t.copyFrom(src);
    src.dispose();
  }
  return model;
}

// two documents: prompt "user_0 w3 w4" / main item tokens, prompt "user_2 w5" / main words
function docBatch(side: "collab" | "content"): PromptMainBatch {
  const p = [
    [U(0), 3, 4],
    [U(2), 5, 0],
  ];
  const main =
    side === "collab"
      ? [
          [V(1), V(4), V(0)],
          [V(2), 0, 0],
        ]
      : [
          [7, 8, 9],
          [10, 11, 0],
        ];
  const pl = [3, 2],
    ml = side === "collab" ? [3, 1] : [3, 2];
  return {
    size: 2,
    promptLen: 3,
    mainLen: 3,
    promptIds: Int32Array.from(p.flat()),
    promptMask: Int32Array.from(p.flatMap((r, b) => r.map((_, t) => (t < pl[b] ? 1 : 0)))),
    mainIds: Int32Array.from(main.flat()),
    mainMask: Int32Array.from(main.flatMap((r, b) => r.map((_, t) => (t < ml[b] ? 1 : 0)))),
    promptLengths: pl,
    mainLengths: ml,
  };
}

function checkGrad(model: Cllm4RecModel, lossFn: () => Tensor, params: Tensor[]) {
  for (const p of model.parameters()) {
    p.grad?.dispose();
    p.grad = null;
  }
  tidy(() => backward(lossFn()));
  const f = () => noGrad(() => tidy(() => lossFn().item()));
  let checked = 0;
  for (const p of params) {
    assert.ok(p.grad, `${p.name} got no gradient`);
    const g = p.grad!.toFloat32();
    const base = p.toFloat32();
    // the coordinates with the largest gradients plus a few fixed ones
    const idx = [...g.keys()]
      .sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]))
      .slice(0, 4)
      .concat([0, base.length - 1]);
    for (const k of idx) {
      const h = 5e-2;
      const at = (v: number) => {
        const data = base.slice();
        data[k] = v;
        const s = Tensor.from(data, p.shape);
        p.copyFrom(s);
        s.dispose();
        return f();
      };
      const fd = (at(base[k] + h) - at(base[k] - h)) / (2 * h);
      at(base[k]);
      const tol = 2e-3 + 3e-2 * Math.abs(fd);
      assert.ok(Math.abs(fd - g[k]) <= tol, `${p.name}[${k}]: analytic ${g[k]} vs finite difference ${fd}`);
      checked++;
    }
  }
  assert.ok(checked >= 6);
}

test("L-step loss gradient (CE over items + regulariser) matches finite differences", () => {
  const m = makeModel(1);
  checkGrad(m, () => m.documentLoss("collab", docBatch("collab"), 0.5).loss, [m.collab.user, m.collab.item]);
  assert.equal(m.content.user.grad, null, "the other side must get no gradient");
});

test("C-step loss gradient (CE over the vocabulary + regulariser) matches finite differences", () => {
  const m = makeModel(2);
  checkGrad(m, () => m.documentLoss("content", docBatch("content"), 0.5).loss, [m.content.user]);
  assert.equal(m.collab.item.grad, null);
});

test("RecLLM loss gradient (multinomial head + regulariser) matches finite differences", () => {
  const m = makeModel(3);
  const b = {
    size: 2,
    promptLen: 4,
    promptIds: Int32Array.from([U(1), 3, V(0), 6, U(0), V(3), 0, 0]),
    promptMask: Int32Array.from([1, 1, 1, 1, 1, 1, 0, 0]),
    promptLengths: [4, 2],
  };
  checkGrad(
    m,
    () =>
      m.recLoss(
        b,
        [
          [0, 2],
          [3, 1, 4],
        ],
        0.3,
      ).loss,
    [m.collab.user, m.collab.item],
  );
});

// Gradient slots are not zero-filled: the first kernel to reach a slot writes it, every later
// one adds (BackwardContext.target). Fan-out inside one op (both operands the same tensor)
// and across ops, and a leaf's gradient kept across two backward passes, must all sum.
test("gradient slots: the first writer writes, later writers add (fan-out, repeated backward)", () => {
  const R = 3,
    C = 4;
  const host = Float32Array.from({ length: R * C }, (_, i) => Math.sin(i + 1));
  const a = Tensor.from(host, [R, C], { requiresGrad: true });
  const w1 = 0.5,
    w2 = 2,
    w3 = -1;
  const loss = () => {
    const h = reshape(a, [R, C]); // an inner node: its slot lives in the backward pass only
    return combineLosses([
      [mean(mul(h, h)), w1], // d/dh = 2h / (R C)
      [mean(matmul(h, h, { transB: true })), w2], // d/dh[i, k] = 2 colsum(h)[k] / R^2
      [mean(add(h, a)), w3], // d/dh = d/da = 1 / (R C)
    ]);
  };
  const expected = (times: number) =>
    Array.from(host, (x, i) => {
      let col = 0;
      for (let r = 0; r < R; r++) col += host[r * C + (i % C)];
      return times * ((w1 * 2 * x) / (R * C) + (w2 * 2 * col) / (R * R) + (w3 * 2) / (R * C));
    });
  const close = (got: Float32Array | Int32Array, want: number[], what: string) => {
    for (const [i, v] of want.entries()) assert.ok(Math.abs(got[i] - v) < 1e-5, `${what} [${i}]: ${got[i]} vs ${v}`);
  };
  tidy(() => backward(loss()));
  close(a.grad!.toArray(), expected(1), "one pass");
  tidy(() => backward(loss())); // no zeroGrad: the leaf's gradient accumulates
  close(a.grad!.toArray(), expected(2), "two passes");
  zeroGrad([a]);
  tidy(() => backward(loss()));
  close(a.grad!.toArray(), expected(1), "after zeroGrad");
  zeroGrad([a]);
  a.dispose();
});

test("a backward pass that fails frees the leaf gradients it created (no unwritten slot survives)", () => {
  const a = Tensor.from(Float32Array.from([1, 2, 3]), [3], { requiresGrad: true });
  const b = Tensor.from(Float32Array.from([4, 5, 6]), [3], { requiresGrad: true });
  tidy(() => backward(mean(mul(b, b)))); // b.grad exists before the failing pass
  const before = Array.from(b.grad!.toArray());
  const boom = (): Tensor =>
    record(Tensor.zeros([1]), {
      op: "boom",
      inputs: [a, b],
      scalar: true,
      backward(ctx) {
        ctx.target(a); // a slot is created, then the kernel that would write it never runs
        throw new Error("boom: backward failed");
      },
    });
  assert.throws(() => tidy(() => backward(boom())), /boom: backward failed/);
  assert.equal(a.grad, null);
  assert.deepEqual(Array.from(b.grad!.toArray()), before); // untouched: the failure came first
  zeroGrad([b]);
  a.dispose();
  b.dispose();
});

test("frozen GPT-2 weights get no gradient and no gradient kernels", () => {
  const m = makeModel(4);
  const linears = 4 * cfg.nLayer + 1; // c_attn, c_proj, c_fc, mlp c_proj per layer, plus the head
  for (const side of ["collab", "content"] as const) {
    native().resetStats();
    tidy(() => backward(m.documentLoss(side, docBatch(side), 1).loss));
    const l = native().stats().launches;
    for (const p of m.backbone.parameters()) assert.equal(p.grad, null, `${p.name} got a gradient`);
    // bias gradients would need colSum
    assert.equal(l.colSum ?? 0, 0, "a bias gradient kernel was launched");
    // forward GEMMs + one input-gradient GEMM each (these small logits are kept, so the
    // chunked head recomputes nothing); a weight GEMM only for the collaborative head, whose
    // weight is the trainable item table. The content head (frozen wte) is the fused CPU
    // kernel: one launch that yields loss and dh, no GEMM and no weight gradient.
    // Each layer's c_fc forward is gemmGelu (the GEMM with its GELU epilogue), counted with them.
    const expected = side === "collab" ? 2 * linears + 1 : 2 * (linears - 1);
    const gemms = (l.gemm ?? 0) + (l.gemmGelu ?? 0);
    assert.equal(gemms, expected, `${side}: gemm + gemmGelu launches ${gemms}, expected ${expected}`);
    assert.equal(l.gemmGelu ?? 0, cfg.nLayer, `${side}: one fused c_fc GEMM per layer`);
    assert.equal(l.geluForward ?? 0, 0, `${side}: GELU runs in the GEMM's epilogue`);
    assert.equal(l.linearXentForward ?? 0, side === "content" ? 1 : 0, `${side}: fused head launches`);
    assert.ok((l.scatterAddRows ?? 0) > 0, "the user/item tables must receive scatter-adds");
  }
});

test("1,000 forward+backward steps do not grow memory", () => {
  const m = makeModel(5);
  const step = () =>
    tidy(() => {
      const { loss } = m.documentLoss("collab", docBatch("collab"), 1);
      backward(loss);
    });
  step();
  const before = native().stats();
  for (let i = 0; i < 1000; i++) step();
  const after = native().stats();
  assert.equal(after.cpuBytes, before.cpuBytes);
  assert.equal(after.liveBuffers, before.liveBuffers);
});

test("bad input: shapes, disposed tensors and token ids give errors naming the op", () => {
  const x = Tensor.zeros([2, 3]);
  const w = Tensor.zeros([4, 5]);
  assert.throws(() => linear(x, w, null), /linear: .*\[2, 3\].*\[4, 5\]/);
  const ids = Tensor.from(new Int32Array([0, 9]), [2]);
  assert.throws(
    () => embedTokens(new Int32Array([0, 9]), ids, [{ table: Tensor.zeros([4, 2]), base: 0 }]),
    (e: Error) => e instanceof RangeError && /embedTokens: token id 9/.test(e.message),
  );
  const rows = Tensor.zeros([4, 2]);
  assert.throws(() => selectRows(rows, Tensor.from(new Int32Array([4]), [1])), RangeError);
  assert.throws(() => selectRows(rows, Tensor.from(new Int32Array([-1]), [1]), new Int32Array([-1])), /selectRows: index -1/);
  x.dispose();
  assert.throws(() => linear(x, Tensor.zeros([3, 5]), null), /linear: .*disposed/);
  assert.throws(() => Tensor.from([1, 2, 3], [2, 2]), /Tensor.from/);
});

test("model init: z^l ~ N(0, 0.02^2), z^c = z^l + N(0, 0.002^2), drawn in blocks equal to whole-table draws", () => {
  // the reference draws each table whole, in the model's order: z^l users, items, then the jitter
  const normals = (n: number, std: number, u: () => number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const u1 = Math.max(u(), 1e-12),
        u2 = u();
      const r = Math.sqrt(-2 * Math.log(u1)) * std;
      out[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
    return out;
  };
  const users = 3,
    items = 70001; // 1,120,016 floats per item table: more than one init block of 2^20
  const gpt = new Gpt2(cfg, randomGpt2Weights(cfg, 1), "cpu");
  const model = new Cllm4RecModel(gpt, { numUsers: users, numItems: items }, lcg(11));
  const u = lcg(11);
  const zlU = normals(users * cfg.nEmbd, 0.02, u),
    zlV = normals(items * cfg.nEmbd, 0.02, u);
  const jitter = (z: Float32Array) => {
    const e = normals(z.length, 0.002, u);
    return z.map((x, i) => x + e[i]);
  };
  const want = [zlU, zlV, jitter(zlU), jitter(zlV)];
  const got = [model.collab.user, model.collab.item, model.content.user, model.content.item];
  got.forEach((t, k) => {
    const g = t.toFloat32();
    const bad = g.findIndex((v, i) => v !== want[k][i]);
    assert.equal(bad, -1, `${t.name}[${bad}]: ${g[bad]} vs ${want[k][bad]}`);
    assert.ok(t.requiresGrad, `${t.name} trains`);
  });
  model.dispose();
});
