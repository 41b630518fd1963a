// The GEMM versions (llm.c dev/cuda habit): v1 is the reference, the last one is the
// graduated default of cuda::gemm. Sources: native/cuda/gemm.cu.
export interface KernelVersion {
  id: number;
  name: string;
  what: string;
}

export const GEMM_VERSIONS: KernelVersion[] = [
  { id: 1, name: "simt-64x64", what: "FP32 SIMT: 64x64 tile of C per 256-thread block, 4x4 per thread, K slices of 16 (the reference)" },
  {
    id: 2,
    name: "simt-64x64-splitk",
    what: "v1 plus split-K for single GEMMs with fewer tiles than SMs and deep K; splits summed in a fixed order (deterministic)",
  },
];
