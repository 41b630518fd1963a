// Ad hoc GEMM timing (not a test): the skinny shapes of CLLM4Rec training (vocabulary
// logits and their gradient, item scores, item-embedding gradients) next to the GPT-2
// Linear shapes. Several addon builds may be named; each shape then runs on every one
// of them in turn, in the same process, so before/after numbers see the same load.
//   npx tsc -p tsconfig.test.json &&
//   node dist-test/bench/gemm_skinny_timing.js [--reps=5] [--threads=2] [--only=substr] [addon.node ...]
// With no addon named, the one the tests load (CLLM4REC_ADDON or the default) is used.
import * as os from "node:os";
import * as path from "node:path";
import type { NativeAddon, NativeBuffer } from "../src/engine/native";
import { nat as defaultAddon, rng, uniform } from "../test/native/helpers";
import { bestOf } from "./best_of";

const flags = new Map<string, string>();
const files: string[] = [];
for (const a of process.argv.slice(2)) {
  const m = /^--(\w+)=(.*)$/.exec(a);
  if (m) flags.set(m[1], m[2]);
  else files.push(a);
}
const reps = Number(flags.get("reps") ?? 5);
const threads = Number(flags.get("threads") ?? 2);
const only = flags.get("only");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const addons: Array<[string, NativeAddon]> = files.length
  ? files.map((f) => [path.basename(f), require(path.resolve(f)) as NativeAddon])
  : [["addon", defaultAddon]];
for (const [, a] of addons) a.setNumThreads(threads);

interface Shape {
  name: string;
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  beta: number;
}
const shapes: Shape[] = [
  { name: "(a)  logits h W^T        NT", transA: false, transB: true, M: 600, N: 50257, K: 128, beta: 0 },
  { name: "(a') logits d=64         NT", transA: false, transB: true, M: 600, N: 50257, K: 64, beta: 0 },
  { name: "(b)  dh = dlogits W, +=  NN", transA: false, transB: false, M: 600, N: 128, K: 50257, beta: 1 },
  { name: "(b') dh d=64, +=         NN", transA: false, transB: false, M: 600, N: 64, K: 50257, beta: 1 },
  { name: "(c)  scores h Z^T M=20   NT", transA: false, transB: true, M: 20, N: 100000, K: 768, beta: 0 },
  { name: "(c') scores M=64         NT", transA: false, transB: true, M: 64, N: 100000, K: 768, beta: 0 },
  { name: '(c") scores M=256        NT', transA: false, transB: true, M: 256, N: 100000, K: 768, beta: 0 },
  { name: "(d)  dZ += ds^T h        TN", transA: true, transB: false, M: 10000, N: 768, K: 20, beta: 1 },
  { name: "gpt2 2560x768x2304       NN", transA: false, transB: false, M: 2560, N: 2304, K: 768, beta: 0 },
  { name: "gpt2 2560x768x2304 dX    NT", transA: false, transB: true, M: 2560, N: 768, K: 2304, beta: 0 },
  { name: "gpt2 2560x768x2304 dW    TN", transA: true, transB: false, M: 768, N: 2304, K: 2560, beta: 0 },
  { name: "gpt2 2560x768x3072       NN", transA: false, transB: false, M: 2560, N: 3072, K: 768, beta: 0 },
  { name: "gpt2 2560x768x3072 dX    NT", transA: false, transB: true, M: 2560, N: 768, K: 3072, beta: 0 },
  { name: "gpt2 2560x768x3072 dW    TN", transA: true, transB: false, M: 768, N: 3072, K: 2560, beta: 0 },
  { name: "gpt2 2560x3072x768       NN", transA: false, transB: false, M: 2560, N: 768, K: 3072, beta: 0 },
  { name: "gpt2 2560x3072x768 dX    NT", transA: false, transB: true, M: 2560, N: 3072, K: 768, beta: 0 },
  { name: "gpt2 2560x3072x768 dW    TN", transA: true, transB: false, M: 3072, N: 768, K: 2560, beta: 0 },
];

const time = (fn: () => void): [number, number] => bestOf(fn, reps);

console.log(
  `load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}, ${threads} threads, best of ${reps}`,
);
const rand = rng(7);
for (const s of shapes) {
  if (only && !s.name.includes(only)) continue;
  const a = uniform(rand, s.M * s.K),
    b = uniform(rand, s.K * s.N),
    c = uniform(rand, s.M * s.N);
  const flop = 2 * s.M * s.N * s.K;
  for (const [label, nat] of addons) {
    const bufs: NativeBuffer[] = [a, b, c].map((x) => {
      const buf = nat.alloc(0, 0, x.length);
      nat.upload(buf, x);
      return buf;
    });
    const [A, B, C] = bufs;
    const [wall, cpu] = time(() => nat.gemm(s.transA, s.transB, s.M, s.N, s.K, 1, A, 0, 0, B, 0, 0, s.beta, C, 0, 0, 1, null));
    console.log(
      `${s.name}  M=${s.M} N=${s.N} K=${s.K}  ${label.padEnd(14)} ${(wall * 1e3).toFixed(1).padStart(7)} ms  ` +
        `${(flop / wall / 1e9).toFixed(1).padStart(6)} GFLOP/s wall  ` +
        `${(flop / (cpu / threads) / 1e9).toFixed(1).padStart(6)} by CPU time`,
    );
    for (const buf of bufs) nat.free(buf);
  }
}
console.log(
  `load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}`,
);
