// The GEMM versions (llm.c dev/cuda habit): v1 is the reference, the last one is the
// graduated default of cuda::gemm. Sources: native/cuda/gemm.cu.
export interface KernelVersion {
  id: number;
  name: string;
  what: string;
  /** Operands rounded to TF32 (10-bit mantissa) before the tensor-core multiply. */
  tf32?: boolean;
}

export const GEMM_VERSIONS: KernelVersion[] = [
  { id: 1, name: "simt-64x64", what: "FP32 SIMT: 64x64 tile of C per 256-thread block, 4x4 per thread, K slices of 16 (the reference)" },
  {
    id: 2,
    name: "simt-64x64-splitk",
    what: "v1 plus split-K for single GEMMs with fewer tiles than SMs and deep K; splits summed in a fixed order (deterministic)",
  },
  {
    id: 3,
    name: "tf32-mma-128x64-splitk",
    what: "TF32 tensor cores (mma.sync m16n8k8, FP32 accumulate): 128x64x16 tile per 4 warps, 3-stage cp.async ring, ldmatrix on padded k-contiguous tiles; v2's split-K",
    tf32: true,
  },
];
