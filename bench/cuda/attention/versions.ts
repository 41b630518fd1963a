// The attention versions (llm.c dev/cuda habit): v1 is the reference, the last one is the
// graduated default for the head dims it covers. Sources: native/cuda/attention.cu (v1) and
// native/cuda/attention_flash.cuh (v2).
import type { KernelVersion } from "../gemm/versions";

export const ATTENTION_VERSIONS: KernelVersion[] = [
  {
    id: 1,
    name: "warp-per-query",
    what: "FP32 SIMT: one warp per query (forward, dq) or key (dk/dv), online softmax, lse saved (the reference; any head dim <= 128)",
  },
  {
    id: 2,
    name: "flash-bf16-mma",
    what: "FlashAttention-2: 64-row tiles, 4 warps x 16 rows, K/V (or Q/dO) tiles via double-buffered cp.async, mma.sync m16n8k16 BF16 operands with FP32 accumulate, online softmax in registers; dq and dk/dv kernels (deterministic); head dims 64 and 128",
  },
];
