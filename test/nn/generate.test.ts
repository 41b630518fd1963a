// Greedy generation picks the argmax of the golden logits (independent PyTorch run).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { Gpt2 } from "../../src/nn/gpt2";
import { nextTokenLogits, greedyGenerate } from "../../src/nn/generate";
import { loadGpt2Folder } from "../../src/io/gpt2_folder";
import { readSafetensors } from "../../src/io/safetensors";

const dir = path.resolve(__dirname, "..", "..", "..", "test", "fixtures", "gpt2_golden");

test("next-token logits and greedy choice match the golden logits at the last position", () => {
  const folder = loadGpt2Folder(dir);
  const model = new Gpt2(folder.config, folder.weights, "cpu");
  const gold = readSafetensors(path.join(dir, "golden.safetensors")).tensors;
  const ids = Array.from(gold.get("batch.ids")!.data.slice(0, 7)); // row 0 has no padding
  const V = folder.config.vocabSize;
  const ref = gold.get("batch.logits")!.data.slice(6 * V, 7 * V);
  const ours = nextTokenLogits(model, ids);
  let maxErr = 0,
    scale = 0,
    argmax = 0;
  for (let v = 0; v < V; v++) {
    maxErr = Math.max(maxErr, Math.abs(ours[v] - ref[v]));
    scale = Math.max(scale, Math.abs(ref[v]));
    if (ref[v] > ref[argmax]) argmax = v;
  }
  assert.ok(maxErr <= 1e-4 * scale, `max error ${maxErr} vs scale ${scale}`);
  assert.deepEqual(greedyGenerate(model, ids, 1), [argmax]);
  assert.equal(greedyGenerate(model, ids, 3).length, 3);
  assert.throws(() => nextTokenLogits(model, []), /empty prompt/);
  model.dispose();
});
