// A short trainer run whose loss is made NaN at one step (loss · NaN, so every gradient of
// that step is NaN too): what the error names, and the trainable tables as they were when
// that step began (after the step before it) and after the error.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { combineLosses } from "../../src/engine";
import { createTinyGpt2Folder } from "../../src/io/tiny_gpt2";
import { openRun } from "../../src/cllm4rec/pipeline";
import { datasetCorpora } from "../../src/cllm4rec/train/corpora";
import { PAPER_DEFAULTS } from "../../src/cllm4rec/train/config";
import { Trainer, NonFiniteLossError } from "../../src/cllm4rec/train/trainer";

export interface NanRun {
  error: NonFiniteLossError;
  /** user/item tables of both sides when the bad step began, and after the error */
  before: Float32Array[];
  after: Float32Array[];
  /** steps run before the error stopped the pass (more than the bad one when the read came later) */
  stepsRun: number;
}

export async function runWithNanAt(device: "cpu" | "cuda", syncEvery: number, badStep: number): Promise<NanRun> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-nan-at-"));
  process.env.CLLM4REC_CACHE = path.join(tmp, "cache");
  try {
    const modelDir = path.join(tmp, "backbone");
    createTinyGpt2Folder(modelDir, { nLayer: 1, nEmbd: 32, nHead: 1, nPositions: 64, seed: 3 });
    const config = { ...PAPER_DEFAULTS, batchSize: 4, seed: 7, contentEpochs: 0, alternatingEpochs: 1, finetuneEpochs: 0, syncEvery };
    const ctx = await openRun(
      { data: { kind: "synthetic", numUsers: 40, numItems: 16, seed: 5 }, dataOptions: {}, modelDir, config },
      { device, dtype: "f32" },
    );
    const corpora = datasetCorpora(ctx.dataset, ctx.tokenizer, { batchSize: 4, maxTokens: 48, lengthAware: true });
    const m = ctx.model;
    const tables = () => [m.collab.user, m.collab.item, m.content.user, m.content.item].map((t) => t.toFloat32());
    let calls = 0,
      before: Float32Array[] = [];
    const real = m.documentLoss.bind(m);
    m.documentLoss = (...args: Parameters<typeof real>) => {
      calls++;
      if (calls !== badStep) return real(...args);
      before = tables(); // a host read: everything queued before this step has run
      const r = real(...args);
      return { ...r, loss: combineLosses([[r.loss, NaN]]) };
    };
    const t = new Trainer({ model: m, corpora, split: ctx.dataset, config, log: () => {}, backboneRef: modelDir });
    let error: NonFiniteLossError | undefined;
    try {
      await t.run();
    } catch (e) {
      if (!(e instanceof NonFiniteLossError)) throw e;
      error = e;
    }
    if (!error) throw new Error(`no NonFiniteLossError with a NaN loss at step ${badStep}`);
    return { error, before, after: tables(), stepsRun: calls };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
