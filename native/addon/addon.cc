// N-API module entry: the memory functions (memory.cc) and the kernel table (kernels.cc).
#include <napi.h>

#include "binder.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  addon::register_memory(env, exports);
  addon::register_kernels(env, exports);
  return exports;
}

NODE_API_MODULE(cllm4rec, Init)
