// Device selection: cuda when the CUDA addon is built and a GPU answers, else cpu.
import { cpuKernels, native } from "./native";
import type { Device } from "./tensor";

export function cudaAvailable(): boolean {
  try {
    const n = native();
    return n.hasCuda && n.cudaDeviceCount() > 0;
  } catch {
    return false;
  }
}

/** Resolves a user's --device choice ("auto" | "cpu" | "cuda") with a clear error. */
export function defaultDevice(choice: string = "auto", log: (s: string) => void = () => {}): Device {
  if (choice === "cpu") return "cpu";
  const ok = cudaAvailable();
  if (choice === "cuda") {
    if (!ok) {
      const n = native();
      throw new Error(
        n.hasCuda
          ? "--device cuda: the CUDA addon is built but no GPU answers (cudaGetDeviceCount = 0)"
          : "--device cuda: this build has no CUDA backend; run `npm run build:native` on a machine with nvcc",
      );
    }
    return "cuda";
  }
  if (choice !== "auto") throw new Error(`unknown device '${choice}' (expected auto, cpu or cuda)`);
  if (ok) return "cuda";
  log(`cllm4rec: no GPU available, running on the CPU (${cpuKernels()})`);
  return "cpu";
}
