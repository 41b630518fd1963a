// Spec peaks of the GPUs check:device meets, dense (no 2:4 sparsity), for the fraction-of-
// peak column of the kernel benchmarks. Sources: NVIDIA H100 Tensor Core GPU datasheet
// (SXM5 / PCIe / NVL columns) and NVIDIA H200 Tensor Core GPU datasheet (SXM / NVL);
// the datasheets quote tensor-core figures with sparsity, halved here to dense.
export interface DevicePeak {
  name: string;
  match: RegExp; // against cudaGetDeviceProperties().name
  fp32Tflops: number; // SIMT FP32
  tf32Tflops: number; // tensor cores, dense
  bf16Tflops: number; // tensor cores, dense
  hbmTBs: number; // memory bandwidth, TB/s
}

export const PEAKS: DevicePeak[] = [
  { name: "H200 NVL", match: /H200 NVL/i, fp32Tflops: 60, tf32Tflops: 417.5, bf16Tflops: 835.5, hbmTBs: 4.8 },
  { name: "H200 SXM", match: /H200/i, fp32Tflops: 67, tf32Tflops: 494.5, bf16Tflops: 989.5, hbmTBs: 4.8 },
  { name: "H100 NVL", match: /H100 NVL/i, fp32Tflops: 60, tf32Tflops: 417.5, bf16Tflops: 835.5, hbmTBs: 3.9 },
  { name: "H100 PCIe", match: /H100 PCIe/i, fp32Tflops: 51, tf32Tflops: 378, bf16Tflops: 756.5, hbmTBs: 2.0 },
  { name: "H100 SXM5", match: /H100/i, fp32Tflops: 67, tf32Tflops: 494.5, bf16Tflops: 989.5, hbmTBs: 3.35 },
];

/** The first table row whose pattern matches the device name, or null (fractions then omitted). */
export function peakFor(deviceName: string): DevicePeak | null {
  return PEAKS.find((p) => p.match.test(deviceName)) ?? null;
}
