// @ts-check
// cllm4rec as a library, end to end in about a minute on a laptop CPU: make a small
// GPT-2-shaped backbone, train CLLM4Rec on synthetic data, reopen the run folder, and
// use it (recommendations, raw scores, embeddings, the dataset card), plus the engine.
//
//   node examples/quickstart.js            # trains into a temporary folder
//   node examples/quickstart.js runs/mine  # opens an existing run folder instead
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { train, openRun, io } = require("cllm4rec");
const { Tensor, matmul, tidy } = require("cllm4rec/engine");

async function main() {
  const existing = process.argv[2];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "cllm4rec-quickstart-"));
  // datasets and backbones are cached here (default: ./.cache)
  process.env.CLLM4REC_CACHE ??= path.join(work, "cache");

  let run;
  if (existing) {
    run = await openRun(existing);
  } else {
    // a 1-layer, d=64 GPT-2 shape with the real 50,257-token vocabulary and random weights
    const backbone = path.join(work, "backbone");
    io.createTinyGpt2Folder(backbone, { nLayer: 1, nEmbd: 64, nHead: 1, nPositions: 256, seed: 1 });
    run = await train({
      out: path.join(work, "run"),
      data: { kind: "synthetic", numUsers: 120, numItems: 60 },
      model: backbone,
      config: { contentEpochs: 1, alternatingEpochs: 1, finetuneEpochs: 2, contentFraction: 0.2, lrFinetune: 3e-3 },
      log: () => {}, // quiet; omit to see per-stage progress
    });
    const r = run.report;
    if (r) console.log(`trained in ${r.totalSeconds.toFixed(1)} s: test Recall@20 ${r.cllm4rec.test.recall[20].toFixed(3)} (popularity ${r.popularity.test.recall[20].toFixed(3)})`);
  }

  console.log(`run ${run.dir}: ${run.card.users} users, ${run.card.items} items, ${run.card.interactions.train} training interactions, device ${run.device}`);

  const users = run.users.slice(0, 2);
  for (const rec of run.recommend(users, 5))
    console.log(`top 5 for user ${rec.user}: ${rec.items.map((x) => `${x.item} (${x.score.toFixed(2)})`).join(", ")}`);

  const s = run.scores(users[0]);
  console.log(`raw scores: ${s.users.length} x ${s.items.length}, first item ${s.items[0]} scores ${s.row(0)[0].toFixed(3)}`);

  const e = run.embeddings();
  console.log(`embeddings: collab.user ${e.collab.user.shape.join("x")}, content.item ${e.content.item.shape.join("x")} (d = ${e.dim})`);

  // the tensor engine on its own: C = A·Bᵀ with intermediates freed by tidy
  const c = tidy(() => {
    const a = Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const b = Tensor.from(new Float32Array([1, 0, 0, 1]), [2, 2]);
    return matmul(a, b, { transB: true }).toFloat32();
  });
  console.log(`engine: [[1,2],[3,4]]·I = [${Array.from(c).join(", ")}]`);

  run.dispose();
  if (!existing) fs.rmSync(work, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(`quickstart failed: ${e && e.message ? e.message : e}`);
  process.exitCode = 1;
});
