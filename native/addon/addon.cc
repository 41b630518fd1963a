// N-API module entry: the memory functions (memory.cc), the kernel table (kernels.cc),
// the CPU-only rows (cpu_fast_bind.cc) and the kernel-version benchmark hooks (kernel_versions.cc).
#include <napi.h>

#include "binder.h"

namespace addon {
// native/addon/cpu_fast_bind.cc: rows of the CPU-only kernels (kernels_cpu.h).
void register_cpu_fast(Napi::Env env, Napi::Object exports);
}  // namespace addon

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  addon::register_memory(env, exports);
  addon::register_kernels(env, exports);
  addon::register_cpu_fast(env, exports);
  addon::register_kernel_versions(env, exports);
  return exports;
}

NODE_API_MODULE(cllm4rec, Init)
