#!/usr/bin/env node
// The same short CLLM4Rec run on the CPU and on CUDA: metrics side by side (they should
// agree within noise: fp32 sums run in different orders) and seconds per epoch of each
// stage on both. Part of `npm run check:device`. Usage: node scripts/train_devices.js OUT.json

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const out = process.argv[2] || "train_devices.json";
process.env.CLLM4REC_CACHE = process.env.CLLM4REC_CACHE || path.join(os.tmpdir(), "cllm4rec-cache");
const { trainRun } = require(path.join(__dirname, "..", "dist", "cllm4rec", "pipeline.js"));
const { PAPER_DEFAULTS, QUICK_PRESET } = require(path.join(__dirname, "..", "dist", "cllm4rec", "train", "config.js"));
const { cudaAvailable } = require(path.join(__dirname, "..", "dist", "engine", "index.js"));

const spec = {
  data: { kind: "synthetic", numUsers: 300, numItems: 150, seed: 11 },
  dataOptions: {},
  // the tiny random backbone: a device comparison needs no pretraining (which would run on CUDA first)
  backbone: "random",
  config: { ...PAPER_DEFAULTS, ...QUICK_PRESET, contentEpochs: 1, alternatingEpochs: 1, finetuneEpochs: 2, patience: 0 },
};

async function runOn(device) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cllm4rec-${device}-`));
  const t0 = Date.now();
  const r = await trainRun(spec, dir, { device, log: (s) => console.log(`[${device}] ${s}`) });
  const perEpoch = {};
  for (const [stage, n] of Object.entries(r.stageEpochs)) if (n > 0) perEpoch[stage] = r.stageSeconds[stage] / n;
  return { device, seconds: (Date.now() - t0) / 1000, secondsPerEpoch: perEpoch, cllm4rec: r.cllm4rec, popularity: r.popularity };
}

(async () => {
  const result = { spec, runs: [] };
  if (!cudaAvailable()) result.note = "no GPU answered: CUDA run skipped";
  for (const device of cudaAvailable() ? ["cuda", "cpu"] : ["cpu"]) result.runs.push(await runOn(device));
  if (result.runs.length === 2) {
    const [g, c] = result.runs;
    const diff = {};
    for (const split of ["val", "test"]) {
      diff[split] = {
        recall20: g.cllm4rec[split].recall[20] - c.cllm4rec[split].recall[20],
        recall40: g.cllm4rec[split].recall[40] - c.cllm4rec[split].recall[40],
        ndcg100: g.cllm4rec[split].ndcg[100] - c.cllm4rec[split].ndcg[100],
      };
    }
    result.cudaMinusCpu = diff;
    result.speedup = Object.fromEntries(Object.keys(c.secondsPerEpoch).map((s) => [s, c.secondsPerEpoch[s] / g.secondsPerEpoch[s]]));
  }
  fs.writeFileSync(out, JSON.stringify(result, null, 1));
  console.log(JSON.stringify({ cudaMinusCpu: result.cudaMinusCpu, speedup: result.speedup, note: result.note }));
})().catch((e) => {
  console.error(`train-devices: ${e.stack || e}`);
  process.exit(1);
});
