// Times every GEMM version with CUDA events at the GPT-2 small layer shapes and the skinny
// head shapes, after flushing L2, and prints TFLOP/s, GB/s and the fraction of the device's
// spec peaks (FP32 SIMT for v1/v2, TF32 tensor cores for v3, BF16 for bf16w: gemmBf16B,
// B held in BF16 as the frozen weights are). Shapes marked `gelu` (the MLP's c_fc) also time
// linear -> GELU: "bf16w+gelu" (gemmBf16BGelu, GELU in the epilogue) against "bf16w,gelu"
// (gemmBf16B then geluForward, the unfused pair). Run by check:device on a GPU:
//   node dist-test/bench/cuda/gemm/time.js [--smoke]
// (--smoke: tiny shapes and a token L2 flush, to check the harness itself, e.g. on the simulator).
import { native } from "../../../src/engine/native";
import type { NativeBuffer } from "../../../src/engine/native";
import { GEMM_VERSIONS } from "./versions";
import { peakFor } from "../peaks";

export interface GemmShape {
  label: string;
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  /** also time the fused linear -> GELU against the unfused pair */
  gelu?: boolean;
}

// B*T = 20*128 = 2560 rows for the layer GEMMs; the heads' dh GEMMs as the issue names them.
export const GPT2_SHAPES: GemmShape[] = [
  { label: "qkv 2560x2304x768", tA: false, tB: false, M: 2560, N: 2304, K: 768 },
  { label: "attn-proj 2560x768x768", tA: false, tB: false, M: 2560, N: 768, K: 768 },
  { label: "mlp-fc 2560x3072x768", tA: false, tB: false, M: 2560, N: 3072, K: 768, gelu: true },
  { label: "mlp-proj 2560x768x3072", tA: false, tB: false, M: 2560, N: 768, K: 3072 },
  { label: "dW mlp-fc 768x3072x2560 (tA)", tA: true, tB: false, M: 768, N: 3072, K: 2560 },
  { label: "multinomial dh 20x768x100000", tA: false, tB: false, M: 20, N: 768, K: 100000 },
  { label: "vocab dh 333x768x50257", tA: false, tB: false, M: 333, N: 768, K: 50257 },
];
export const SMOKE_SHAPES: GemmShape[] = [
  { label: "smoke 70x70x40", tA: false, tB: false, M: 70, N: 70, K: 40, gelu: true },
  { label: "smoke skinny 4x40x600", tA: false, tB: false, M: 4, N: 40, K: 600, gelu: true },
];

export interface GemmTiming {
  version: string; // v1..vN (bench/cuda/gemm/versions.ts), bf16w (gemmBf16B: B in BF16, the frozen weights), bf16w+gelu, bf16w,gelu
  shape: string;
  splits: number;
  ms: number;
  tflops: number;
  gbs: number;
  fracFp32?: number;
  fracTf32?: number;
  fracBf16?: number;
  fracHbm?: number;
}

/** flushFloats: floats written between reps (default 64 Mi = 256 MiB, more than any L2; --smoke: a token one) */
export function timeGemms(
  shapes: GemmShape[],
  reps: number,
  flushFloats = 64 << 20,
): { device: string; peak: string | null; rows: GemmTiming[] } {
  const n = native();
  if (!n.hasCuda || n.cudaDeviceCount() === 0)
    throw new Error("gemm timing: no CUDA device (build with npm run build:native on a GPU machine)");
  const device = n.cudaDeviceName();
  const peak = peakFor(device);
  const before = n.gemmVersion();
  const flush = n.alloc(1, 0, flushFloats); // written between reps: the default is more than any L2
  const rows: GemmTiming[] = [];
  try {
    for (const s of shapes) {
      // A, B, C and (gelu shapes) the GELU output
      const bufs: NativeBuffer[] = [s.M * s.K, s.K * s.N, s.M * s.N, s.gelu ? s.M * s.N : 1].map((k) => n.alloc(1, 0, k));
      bufs.forEach((b, i) => {
        n.fill(b, 0.01 * (i + 1), n.numel(b));
      });
      // B in BF16 for the frozen-weight GEMM (its B bytes are half of fp32's)
      const bh = n.alloc(1, 1, Math.ceil((s.K * s.N) / 2));
      n.f32ToBf16(bufs[1], s.K * s.N, bh);
      bufs.push(bh);
      const MN = s.M * s.N;
      type Runner = { version: string; bBytes: number; extraBytes?: number; setup: () => void; run: () => void; splits: () => number };
      const geluRunners: Runner[] = [
        {
          version: "bf16w+gelu",
          bBytes: 2,
          extraBytes: 4 * MN, // the GELU output, written by the epilogue
          setup: () => {},
          run: () => n.gemmBf16BGelu(s.M, s.N, s.K, bufs[0], bh, null, bufs[2], bufs[3]),
          splits: () => 0,
        },
        {
          version: "bf16w,gelu",
          bBytes: 2,
          extraBytes: 8 * MN, // geluForward reads C back and writes its output
          setup: () => {},
          run: () => {
            n.gemmBf16B(false, false, s.M, s.N, s.K, 1, bufs[0], 0, bh, 0, bufs[2], 0, null);
            n.geluForward(bufs[2], bufs[3], MN);
          },
          splits: () => 0,
        },
      ];
      const runners: Runner[] = [
        ...GEMM_VERSIONS.map((v) => ({
          version: `v${v.id}`,
          bBytes: 4,
          setup: () => n.setGemmVersion(v.id, 0),
          run: () => n.gemm(s.tA, s.tB, s.M, s.N, s.K, 1, bufs[0], 0, 0, bufs[1], 0, 0, 0, bufs[2], 0, 0, 1, null),
          splits: () => (v.id >= 2 ? n.gemmSplits(s.M, s.N, s.K, 1) : 1),
        })),
        {
          version: "bf16w",
          bBytes: 2,
          setup: () => {},
          run: () => n.gemmBf16B(s.tA, s.tB, s.M, s.N, s.K, 1, bufs[0], 0, bh, 0, bufs[2], 0, null),
          splits: () => 0, // planned inside (v3's rule for 128x64 tiles and slices of 32); not exposed
        },
        ...(s.gelu && !s.tA && !s.tB ? geluRunners : []),
      ];
      try {
        for (const x of runners) {
          x.setup();
          x.run(); // warm-up: workspace allocation, module load
          const times: number[] = [];
          for (let r = 0; r < reps; r++) {
            n.fill(flush, r, n.numel(flush));
            n.cudaTimerStart();
            x.run();
            times.push(n.cudaTimerStopMs());
          }
          times.sort((a, b) => a - b);
          const ms = times[Math.floor(times.length / 2)];
          const flops = 2 * s.M * s.N * s.K,
            bytes = 4 * (s.M * s.K + s.M * s.N) + x.bBytes * s.K * s.N + (x.extraBytes ?? 0);
          const tflops = flops / (ms * 1e-3) / 1e12,
            gbs = bytes / (ms * 1e-3) / 1e9;
          rows.push({
            version: x.version,
            shape: s.label,
            splits: x.splits(),
            ms,
            tflops,
            gbs,
            ...(peak
              ? {
                  fracFp32: tflops / peak.fp32Tflops,
                  fracTf32: tflops / peak.tf32Tflops,
                  fracBf16: tflops / peak.bf16Tflops,
                  fracHbm: gbs / (peak.hbmTBs * 1e3),
                }
              : {}),
          });
        }
      } finally {
        bufs.forEach((b) => {
          n.free(b);
        });
      }
    }
  } finally {
    n.free(flush);
    n.setGemmVersion(before, 0);
  }
  return { device, peak: peak?.name ?? null, rows };
}

function pct(x: number | undefined): string {
  return x === undefined ? "-" : `${(100 * x).toFixed(1)}%`;
}

if (require.main === module) {
  const smoke = process.argv.includes("--smoke");
  const r = timeGemms(smoke ? SMOKE_SHAPES : GPT2_SHAPES, smoke ? 3 : 10, smoke ? 1 << 12 : 64 << 20);
  console.log(
    `gemm versions on ${r.device} (peak table row: ${r.peak ?? "none: fractions omitted"}); median of CUDA-event times after an L2 flush`,
  );
  console.log("version    shape                               splits      ms   TFLOP/s  %FP32  %TF32  %BF16     GB/s  %HBM");
  for (const x of r.rows)
    console.log(
      `${x.version.padEnd(11)}${x.shape.padEnd(36)}${(x.splits ? String(x.splits) : "-").padStart(6)}${x.ms.toFixed(3).padStart(8)}${x.tflops.toFixed(2).padStart(10)}` +
        `${pct(x.fracFp32).padStart(7)}${pct(x.fracTf32).padStart(7)}${pct(x.fracBf16).padStart(7)}${x.gbs.toFixed(0).padStart(9)}${pct(x.fracHbm).padStart(6)}`,
    );
  console.log(JSON.stringify({ bench: "gemm_versions", simulator: native().cudaSimulator === true, ...r }));
}
