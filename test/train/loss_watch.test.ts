// The loss is read on the host every k steps: values arrive in step order only at the
// reads, a NaN/Inf names its exact step whatever k is, and a training step's memory is flat.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Tensor, tidy } from "../../src/engine";
import { createTinyGpt2Folder } from "../../src/io/tiny_gpt2";
import { openRun } from "../../src/cllm4rec/pipeline";
import { datasetCorpora } from "../../src/cllm4rec/train/corpora";
import { PAPER_DEFAULTS } from "../../src/cllm4rec/train/config";
import { Trainer, NonFiniteLossError } from "../../src/cllm4rec/train/trainer";
import { LossWatch, defaultSyncEvery } from "../../src/cllm4rec/train/loss_watch";
import { runLSteps } from "./step_loop";
import { runWithNanAt } from "./nan_inject";

function pushAll(watch: LossWatch, values: number[], seen: [number, number][]): number[] {
  const after: number[] = [];
  values.forEach((v, i) => {
    tidy(() => watch.push(Tensor.from([v], [1]), i + 1));
    after.push(seen.length);
  });
  return after;
}

test("LossWatch reports every k steps, in order, and the remainder at flush", () => {
  const seen: [number, number][] = [];
  const w = new LossWatch(3, "cpu", (s, v) => {
    seen.push([s, v]);
  });
  const after = pushAll(w, [0.5, 1.5, 2.5, 3.5, 4.5], seen);
  assert.deepEqual(after, [0, 0, 3, 3, 3]); // nothing is read before the third step
  assert.equal(w.pending, 2);
  w.flush();
  assert.deepEqual(seen, [
    [1, 0.5],
    [2, 1.5],
    [3, 2.5],
    [4, 3.5],
    [5, 4.5],
  ]);
  w.flush(); // nothing pending: no report
  assert.equal(seen.length, 5);
  w.dispose();
  assert.throws(() => w.push(Tensor.from([1], [1]), 6), /push after dispose/);
});

test("LossWatch names the exact step of a NaN or Inf at the read that covers it", () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const ok: number[] = [];
    const w = new LossWatch(4, "cpu", (s, v) => {
      if (!Number.isFinite(v)) throw new Error(`non-finite ${v} at step ${s}`);
      ok.push(s);
    });
    const values = [1, 2, 3, 4, 5, bad, 7, 8];
    let thrown = "";
    let stepAtThrow = 0;
    values.forEach((v, i) => {
      if (thrown) return;
      try {
        tidy(() => w.push(Tensor.from([v], [1]), i + 1));
      } catch (e) {
        thrown = (e as Error).message;
        stepAtThrow = i + 1;
      }
    });
    assert.equal(thrown, `non-finite ${bad} at step 6`);
    assert.equal(stepAtThrow, 8); // found at the read after step 8, not at step 6
    assert.deepEqual(ok, [1, 2, 3, 4, 5]);
    w.dispose();
  }
});

test("LossWatch rejects a bad interval and a loss that is not one f32 value", () => {
  for (const k of [0, -1, 1.5, NaN]) assert.throws(() => new LossWatch(k, "cpu", () => {}), /integer >= 1/);
  const w = new LossWatch(2, "cpu", () => {});
  tidy(() => assert.throws(() => w.push(Tensor.from([1, 2], [2]), 1), /one f32 value, got shape \[2\]/));
  tidy(() => assert.throws(() => w.push(Tensor.from([1], [1], { dtype: "i32" }), 1), /one f32 value, got shape \[1\] i32/));
  w.dispose();
  assert.equal(defaultSyncEvery("cpu"), 1);
  assert.equal(defaultSyncEvery("cuda"), 16);
});

test("L-steps: the same losses whatever the read interval, and flat memory after the first step", async () => {
  const every1 = await runLSteps("cpu", 6, 1);
  const every4 = await runLSteps("cpu", 6, 4);
  assert.deepEqual(every4.reportedAfterPush, [0, 0, 0, 4, 4, 4]);
  assert.equal(every4.losses.length, 6);
  assert.deepEqual(every4.losses, every1.losses);
  assert.ok(every1.losses.every(Number.isFinite));
  assert.ok(every1.losses[5] < every1.losses[0], `loss did not fall: ${every1.losses}`);
  // step 1 creates Adam's moments; after it every step frees all it allocates
  const s = every4.stats;
  for (let i = 2; i < s.length; i++) {
    assert.equal(s[i].liveBuffers, s[1].liveBuffers, `live buffers grew at step ${i + 1}`);
    assert.equal(s[i].cpuBytes, s[1].cpuBytes, `CPU bytes grew at step ${i + 1}`);
  }
});

test("trainer: a diverging run names the same stage, epoch and step whatever --sync-every is", async () => {
  const errs: NonFiniteLossError[] = [];
  for (const syncEvery of [1, 4]) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-nan-"));
    process.env.CLLM4REC_CACHE = path.join(tmp, "cache");
    const modelDir = path.join(tmp, "backbone");
    createTinyGpt2Folder(modelDir, { nLayer: 1, nEmbd: 32, nHead: 1, nPositions: 64, seed: 3 });
    const config = {
      ...PAPER_DEFAULTS,
      batchSize: 4,
      seed: 7,
      contentEpochs: 0,
      alternatingEpochs: 1,
      finetuneEpochs: 1,
      lrPretrain: 1e30,
      syncEvery,
    };
    const ctx = await openRun({ data: { kind: "synthetic", numUsers: 40, numItems: 16, seed: 5 }, dataOptions: {}, modelDir, config });
    const corpora = datasetCorpora(ctx.dataset, ctx.tokenizer, { batchSize: 4, maxTokens: 48, lengthAware: true });
    const t = new Trainer({ model: ctx.model, corpora, split: ctx.dataset, config, log: () => {}, backboneRef: modelDir });
    await assert.rejects(
      () => t.run(),
      (e: Error) => {
        assert.ok(e instanceof NonFiniteLossError, `not a NonFiniteLossError: ${e.message}`);
        errs.push(e);
        return true;
      },
    );
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  assert.equal(errs[1].message, errs[0].message);
  assert.ok(errs[0].step > 1, `diverged at step ${errs[0].step} (${errs[0].message}): too early to tell intervals apart`);
  assert.ok(errs[0].step % 4 !== 0, `step ${errs[0].step} is a read boundary of K = 4: pick other data`);
});

test("trainer: a NaN at step s names step s for every --sync-every, and the tables stay as after step s-1", async () => {
  const s = 3;
  for (const syncEvery of [1, 2, 4, 5]) {
    const r = await runWithNanAt("cpu", syncEvery, s);
    assert.equal(r.error.step, s, `--sync-every ${syncEvery}: ${r.error.message}`);
    assert.match(r.error.message, /stage 'alternating', epoch 1, step 3;/);
    // the read that finds it comes at the first multiple of K at or after s (or the pass's end)
    assert.equal(r.stepsRun, Math.ceil(s / syncEvery) * syncEvery, `--sync-every ${syncEvery}: steps run`);
    r.after.forEach((t, i) => {
      assert.equal(t.length, r.before[i].length);
      for (let j = 0; j < t.length; j++)
        if (!Object.is(t[j], r.before[i][j])) assert.fail(`--sync-every ${syncEvery}: table ${i}[${j}] ${r.before[i][j]} -> ${t[j]}`);
    });
  }
});
