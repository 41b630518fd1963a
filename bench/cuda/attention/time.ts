// Times every attention version with CUDA events, forward and forward + backward, at the GPT-2
// small shapes (head dim 64; the T = 1,024 target), a prompt-prefix shape and head dim
// 128, after flushing L2; prints TFLOP/s and the fraction of the device's spec BF16 (and FP32)
// peak. Run by check:device:  node dist-test/bench/cuda/attention/time.js [--smoke]
// (--smoke: tiny shapes, to check the harness itself, e.g. on the simulator).
import { native } from "../../../src/engine/native";
import type { NativeBuffer } from "../../../src/engine/native";
import { ATTENTION_VERSIONS } from "./versions";
import { peakFor } from "../peaks";

interface AttentionShape {
  label: string;
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  Dh: number;
}

const SHAPES: AttentionShape[] = [
  { label: "gpt2 B20 T128 H12 Dh64", B: 20, H: 12, Tq: 128, Tk: 128, Dh: 64 },
  { label: "gpt2 B4 T1024 H12 Dh64", B: 4, H: 12, Tq: 1024, Tk: 1024, Dh: 64 },
  { label: "prefix B20 Tq64 Tk192 H12 Dh64", B: 20, H: 12, Tq: 64, Tk: 192, Dh: 64 },
  { label: "B2 T1024 H6 Dh128", B: 2, H: 6, Tq: 1024, Tk: 1024, Dh: 128 },
];
const SMOKE: AttentionShape[] = [
  { label: "smoke B1 T70 H2 Dh64", B: 1, H: 2, Tq: 70, Tk: 70, Dh: 64 },
  { label: "smoke B1 Tq5 Tk40 H1 Dh128", B: 1, H: 1, Tq: 5, Tk: 40, Dh: 128 },
];

interface AttentionTiming {
  version: number;
  shape: string;
  pass: "fwd" | "fwd+bwd";
  ms: number;
  tflops: number;
  fracBf16?: number;
  fracFp32?: number;
}

// Multiply-adds of the causal forward: QK^T and PV over the (query, key) pairs a query sees.
function forwardFlops(s: AttentionShape): number {
  let pairs = 0;
  for (let i = 0; i < s.Tq; i++) pairs += s.Tk - s.Tq + i + 1;
  return 4 * s.B * s.H * pairs * s.Dh;
}

function timeAttention(
  shapes: AttentionShape[],
  reps: number,
  flushFloats: number,
): { device: string; peak: string | null; rows: AttentionTiming[] } {
  const n = native();
  if (!n.hasCuda || n.cudaDeviceCount() === 0)
    throw new Error("attention timing: no CUDA device (build with npm run build:native on a GPU machine)");
  const device = n.cudaDeviceName();
  const peak = peakFor(device);
  const before = n.attentionVersion();
  const flush = n.alloc(1, 0, flushFloats); // written between reps: 256 MiB is more than any L2
  const rows: AttentionTiming[] = [];
  try {
    for (const s of shapes) {
      const D = s.H * s.Dh;
      // q [B*Tq, D], kv [B*Tk, 2D] (k then v per row), as the model's prompt-prefix layout
      const sizes = [
        s.B * s.Tq * D,
        s.B * s.Tk * 2 * D,
        s.B * s.Tq * D,
        s.B * s.H * s.Tq,
        s.B * s.Tq * D,
        s.B * s.Tq * D,
        s.B * s.Tk * 2 * D,
      ];
      const bufs: NativeBuffer[] = sizes.map((len) => n.alloc(1, 0, len));
      const [q, kv, out, lse, dout, dq, dkv] = bufs;
      for (const [i, b] of [q, kv, dout].entries()) n.fill(b, 0.01 * (i + 1), n.numel(b));
      const fwd = () => n.attentionForward(q, 0, D, kv, 0, D, 2 * D, null, out, lse, s.B, s.H, s.Tq, s.Tk, s.Dh, 0, 0, 0, 0, 1, 0);
      const bwd = () =>
        n.attentionBackward(dout, q, 0, D, kv, 0, D, 2 * D, null, out, lse, dq, 0, dkv, 0, D, s.B, s.H, s.Tq, s.Tk, s.Dh, 0, 0, 0, 0, 1, 0);
      try {
        for (const v of ATTENTION_VERSIONS) {
          n.setAttentionVersion(v.id);
          if (n.attentionKernelVersion(s.Dh, 0) !== v.id) continue; // this version does not cover the head dim
          for (const pass of ["fwd", "fwd+bwd"] as const) {
            const run =
              pass === "fwd"
                ? fwd
                : () => {
                    fwd();
                    bwd();
                  };
            run(); // warm-up: module load, shared-memory opt-in, scratch allocation
            const times: number[] = [];
            for (let r = 0; r < reps; r++) {
              n.fill(flush, r, n.numel(flush));
              n.cudaTimerStart();
              run();
              times.push(n.cudaTimerStopMs());
            }
            times.sort((a, b) => a - b);
            const ms = times[Math.floor(times.length / 2)];
            // backward = 2.5x the forward's multiply-adds (FlashAttention's convention: 5 GEMMs to 2)
            const flops = forwardFlops(s) * (pass === "fwd" ? 1 : 3.5);
            const tflops = flops / (ms * 1e-3) / 1e12;
            rows.push({
              version: v.id,
              shape: s.label,
              pass,
              ms,
              tflops,
              ...(peak ? { fracBf16: tflops / peak.bf16Tflops, fracFp32: tflops / peak.fp32Tflops } : {}),
            });
          }
        }
      } finally {
        for (const b of bufs) n.free(b);
      }
    }
  } finally {
    n.free(flush);
    n.setAttentionVersion(before);
  }
  return { device, peak: peak?.name ?? null, rows };
}

function pct(x: number | undefined): string {
  return x === undefined ? "-" : `${(100 * x).toFixed(1)}%`;
}

if (require.main === module) {
  const smoke = process.argv.includes("--smoke");
  // --smoke: a token flush, so the harness check takes seconds on the simulator
  const r = timeAttention(smoke ? SMOKE : SHAPES, smoke ? 2 : 10, smoke ? 1 << 12 : 64 << 20);
  console.log(
    `attention versions on ${r.device} (peak table row: ${r.peak ?? "none: fractions omitted"}); median of CUDA-event times after an L2 flush`,
  );
  console.log("version  shape                              pass          ms   TFLOP/s  %BF16  %FP32");
  for (const x of r.rows)
    console.log(
      `v${x.version}       ${x.shape.padEnd(35)}${x.pass.padEnd(8)}${x.ms.toFixed(3).padStart(10)}${x.tflops.toFixed(2).padStart(10)}` +
        `${pct(x.fracBf16).padStart(7)}${pct(x.fracFp32).padStart(7)}`,
    );
  console.log(JSON.stringify({ bench: "attention_versions", simulator: native().cudaSimulator === true, ...r }));
}
