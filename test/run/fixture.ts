// A small trained run for the library and service tests: tiny backbone, small synthetic
// data, one epoch per stage, trained through the public train() under a temp cache.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type * as Lib from "../../src/index";

/** The package as a user imports it: by name, through the exports map (self-reference). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const lib = require("cllm4rec") as typeof Lib;

export async function trainedRun(tag: string): Promise<{ tmp: string; out: string; run: Lib.Run }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `cllm4rec-${tag}-`));
  process.env.CLLM4REC_CACHE = path.join(tmp, "cache");
  const backbone = path.join(tmp, "backbone");
  lib.io.createTinyGpt2Folder(backbone, { nLayer: 1, nEmbd: 32, nHead: 1, nPositions: 128, seed: 3 });
  const out = path.join(tmp, "run");
  const run = await lib.train({
    out,
    model: backbone,
    log: () => {},
    data: { kind: "synthetic", numUsers: 60, numItems: 30, seed: 5 },
    config: { contentEpochs: 1, alternatingEpochs: 1, finetuneEpochs: 1, contentFraction: 0.1, seed: 7 },
  });
  return { tmp, out, run };
}
