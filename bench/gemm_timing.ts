// Ad hoc GEMM timing (not a test): GFLOP/s of the CPU kernel at GPT-2 Linear shapes,
// for the transpose combinations a Linear layer uses. Run:
//   npx tsc -p tsconfig.test.json && node dist-test/bench/gemm_timing.js [tokens] [threads]
import { nat, rng, uniform } from "../test/native/helpers";
import { bestOf } from "./best_of";

const M = Number(process.argv[2] ?? 2560);
if (process.argv[3]) nat.setNumThreads(Number(process.argv[3]));
const shapes: Array<[number, number]> = [
  [768, 2304],
  [768, 3072],
  [3072, 768],
]; // [in, out]

const time = (fn: () => void): [number, number] => bestOf(fn, 3);

const rand = rng(1);
for (const [K, N] of shapes) {
  const X = nat.alloc(0, 0, M * K),
    W = nat.alloc(0, 0, K * N),
    Y = nat.alloc(0, 0, M * N);
  nat.upload(X, uniform(rand, M * K));
  nat.upload(W, uniform(rand, K * N));
  nat.upload(Y, uniform(rand, M * N));
  const dX = nat.alloc(0, 0, M * K),
    dW = nat.alloc(0, 0, K * N);
  const flop = 2 * M * N * K;
  const rows: Array<[string, [number, number]]> = [
    // forward: Y[M,N] = X[M,K] @ W[K,N]
    ["fwd  Y = X W      (NN)", time(() => nat.gemm(false, false, M, N, K, 1, X, 0, 0, W, 0, 0, 0, Y, 0, 0, 1, null))],
    // backward input: dX[M,K] = dY[M,N] @ W^T
    ["bwd dX = dY W^T   (NT)", time(() => nat.gemm(false, true, M, K, N, 1, Y, 0, 0, W, 0, 0, 0, dX, 0, 0, 1, null))],
    // backward weight: dW[K,N] = X^T @ dY
    ["bwd dW = X^T dY   (TN)", time(() => nat.gemm(true, false, K, N, M, 1, X, 0, 0, Y, 0, 0, 0, dW, 0, 0, 1, null))],
  ];
  const threads = nat.numThreads();
  for (const [name, [wall, cpu]] of rows)
    console.log(
      `M=${M} K=${K} N=${N}  ${name}  ${(wall * 1e3).toFixed(1)} ms  ` +
        `${(flop / wall / 1e9).toFixed(1)} GFLOP/s wall, ${(flop / (cpu / threads) / 1e9).toFixed(1)} GFLOP/s by CPU time`,
    );
  for (const b of [X, W, Y, dX, dW]) nat.free(b);
}
