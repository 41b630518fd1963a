// Dispatch of one kernel call to native/cpu or native/cuda by the call's device,
// with the launch counted. The addon holds no math: only this routing.
#pragma once
#include "args.h"
#include "buffer.h"
#include "kernels.h"

#ifdef CLLM4REC_CUDA
#define CLLM4REC_DISPATCH(args, counter, kernel, ...)   \
  do {                                                  \
    ::addon::count_launch(counter);                     \
    if ((args).device() == ::addon::kCuda) {            \
      ::cuda::kernel(__VA_ARGS__);                      \
      ::cuda::check_last(counter);                      \
    } else {                                            \
      ::cpu::kernel(__VA_ARGS__);                       \
    }                                                   \
  } while (0)
#else
#define CLLM4REC_DISPATCH(args, counter, kernel, ...) \
  do {                                                \
    (void)(args);                                     \
    ::addon::count_launch(counter);                   \
    ::cpu::kernel(__VA_ARGS__);                       \
  } while (0)
#endif

namespace addon {

template <typename T>
T* data(const Buffer* b, int64_t off = 0) {
  return b ? static_cast<T*>(b->ptr) + off : nullptr;
}

// Registers one entry point; std::exceptions from kernels become JS Errors naming it.
void export_function(Napi::Env env, Napi::Object exports, const char* name,
                     Napi::Value (*fn)(const Napi::CallbackInfo&));

// Entry-point tables, one per file.
void register_memory(Napi::Env env, Napi::Object exports);
void register_kernels(Napi::Env env, Napi::Object exports);

}  // namespace addon
