// GPT-2 on the engine against golden tensors from an independent float64 PyTorch
// implementation (test/fixtures/make_gpt2_golden.py; see GOLDEN.md): hidden states,
// logits and input-embedding gradients for a padded batch, for the prompt-prefix path
// (keys/values of the prompt reused by the main text), and for the single-pass layout
// the trainer uses, which must equal the prefix path.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { Tensor, tidy, backward, matmul, squaredDistance, embedTokens, add, selectRows } from "../../src/engine";
import { Gpt2 } from "../../src/nn/gpt2";
import { loadGpt2Folder } from "../../src/io/gpt2_folder";
import { readSafetensors } from "../../src/io/safetensors";
import { layoutPromptMain } from "../../src/cllm4rec/model/batch_layout";

const dir = path.resolve(__dirname, "..", "..", "..", "test", "fixtures", "gpt2_golden");
const folder = loadGpt2Folder(dir);
const gold = readSafetensors(path.join(dir, "golden.safetensors")).tensors;
const g = (name: string) => {
  const t = gold.get(name);
  if (!t) throw new Error(`golden tensor ${name} missing`);
  return t.data;
};
const d = folder.config.nEmbd;
const model = new Gpt2(folder.config, folder.weights, "cpu");

/** max |ours - ref| over rows whose mask is 1, relative to max |ref| over those rows (fp32 vs float64). */
function compareRows(label: string, ours: ArrayLike<number>, ref: ArrayLike<number>, mask: ArrayLike<number>, width: number, tol = 1e-4) {
  let maxErr = 0,
    maxRef = 0,
    worstRel = 0;
  for (let r = 0; r < mask.length; r++) {
    if (!mask[r]) continue;
    for (let c = 0; c < width; c++) {
      const a = ours[r * width + c],
        b = ref[r * width + c];
      assert.ok(Number.isFinite(a), `${label}: non-finite value at row ${r}`);
      maxErr = Math.max(maxErr, Math.abs(a - b));
      maxRef = Math.max(maxRef, Math.abs(b));
      worstRel = Math.max(worstRel, Math.abs(a - b) / (Math.abs(b) + 1e-2 * maxRef + 1e-12));
    }
  }
  assert.ok(maxRef > 0, `${label}: empty comparison`);
  assert.ok(maxErr <= tol * maxRef, `${label}: max abs error ${maxErr} exceeds ${tol} x max |ref| ${maxRef}`);
  return { maxErr, maxRef, worstRel };
}

const ints = (name: string) => Int32Array.from(g(name));

/** x0 = wte[ids] + wpe[positions] through the engine's own gathers. */
function embed(ids: Int32Array, positions: Int32Array): Tensor {
  const idT = Tensor.from(ids, [ids.length]);
  return add(embedTokens(ids, idT, [{ table: model.wte, base: 0 }]), model.positions(positions));
}

/** d sum(h * R) / d inputs, via ||h - (h* - R/2)||^2 whose gradient at h = h* is R. */
function projectionLoss(h: Tensor, R: Float32Array): Tensor {
  const hv = h.toFloat32();
  const c = Tensor.from(
    hv.map((x, i) => x - R[i] / 2),
    h.shape,
  );
  return squaredDistance(h, c);
}

test("padded batch: embeddings, hidden states, logits and input gradients match the golden", () => {
  tidy(() => {
    const ids = ints("batch.ids"),
      mask = ints("batch.mask"),
      pos = ints("batch.positions");
    const ours0 = embed(ids, pos);
    compareRows("x0", ours0.toFloat32(), g("batch.x0"), mask, d);
    const x0 = Tensor.from(g("batch.x0") as Float32Array, [21, d], { requiresGrad: true });
    const { hidden } = model.forward(x0, Tensor.from(mask, [21]), 3, 7);
    compareRows("hidden", hidden.toFloat32(), g("batch.hidden"), mask, d);
    const logits = matmul(hidden, model.wte, { transB: true });
    compareRows("logits", logits.toFloat32(), g("batch.logits"), mask, folder.config.vocabSize);
    backward(projectionLoss(hidden, g("batch.R") as Float32Array));
    const ones = new Int32Array(21).fill(1);
    compareRows("grad x0", x0.grad!.toFloat32(), g("batch.grad_x0"), ones, d);
    x0.dispose();
  });
});

test("prompt prefix: main text attending to the prompt's cached keys/values matches the golden, gradients reach the prompt", () => {
  tidy(() => {
    const pMask = ints("prefix.prompt_mask"),
      mMask = ints("prefix.main_mask");
    const px0 = Tensor.from(g("prefix.prompt_x0") as Float32Array, [15, d], { requiresGrad: true });
    const mx0 = Tensor.from(g("prefix.main_x0") as Float32Array, [18, d], { requiresGrad: true });
    const prompt = model.forward(px0, Tensor.from(pMask, [15]), 3, 5);
    compareRows("prompt hidden", prompt.hidden.toFloat32(), g("prefix.prompt_hidden"), pMask, d);
    const keyMask = new Int32Array(3 * 11);
    for (let b = 0; b < 3; b++) {
      keyMask.set(pMask.subarray(b * 5, b * 5 + 5), b * 11);
      keyMask.set(mMask.subarray(b * 6, b * 6 + 6), b * 11 + 5);
    }
    const main = model.forward(mx0, Tensor.from(keyMask, [33]), 3, 6, prompt.cache);
    compareRows("main hidden", main.hidden.toFloat32(), g("prefix.main_hidden"), mMask, d);
    compareRows(
      "main logits",
      matmul(main.hidden, model.wte, { transB: true }).toFloat32(),
      g("prefix.main_logits"),
      mMask,
      folder.config.vocabSize,
    );
    backward(projectionLoss(main.hidden, g("prefix.R2") as Float32Array));
    compareRows("grad prompt x0", px0.grad!.toFloat32(), g("prefix.grad_prompt_x0"), new Int32Array(15).fill(1), d);
    compareRows("grad main x0", mx0.grad!.toFloat32(), g("prefix.grad_main_x0"), new Int32Array(18).fill(1), d);
    px0.dispose();
    mx0.dispose();
  });
});

test("the trainer's single-pass [prompt | main] layout equals the prefix path", () => {
  tidy(() => {
    const lay = layoutPromptMain({
      size: 3,
      promptLen: 5,
      mainLen: 6,
      promptIds: ints("prefix.prompt_ids"),
      promptMask: ints("prefix.prompt_mask"),
      mainIds: ints("prefix.main_ids"),
      mainMask: ints("prefix.main_mask"),
      promptLengths: ints("prefix.prompt_lengths"),
      mainLengths: ints("prefix.main_lengths"),
    });
    const { hidden } = model.forward(embed(lay.ids, lay.positions), Tensor.from(lay.mask, [lay.mask.length]), 3, 11);
    // rows of the main text inside each [prompt | main] row
    const rows = Int32Array.from({ length: 18 }, (_, k) => Math.floor(k / 6) * 11 + 5 + (k % 6));
    const mainHidden = selectRows(hidden, Tensor.from(rows, [18]));
    compareRows("single-pass main hidden", mainHidden.toFloat32(), g("prefix.main_hidden"), ints("prefix.main_mask"), d);
    // and the row that predicts each main token is the last real prompt token for t = 0
    const lengths = ints("prefix.prompt_lengths");
    const mainLengths = ints("prefix.main_lengths");
    assert.deepEqual(Array.from(lay.predictRows.slice(0, 2)), [lengths[0] - 1, 5]);
    assert.equal(lay.predictRows[mainLengths[0]], 11 + lengths[1] - 1);
  });
});
