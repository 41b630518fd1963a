// Entry points for the kernel benchmarks (bench/cuda): which GEMM version cuda::gemm
// runs, its split-K plan, and CUDA-event timing. Without CUDA each one says so.
#include <string>

#include "binder.h"

namespace addon {
namespace {

#ifdef CLLM4REC_CUDA
Napi::Value SetGemmVersion(const Napi::CallbackInfo& info) {
  Args a(info, "setGemmVersion", 2);
  const int64_t v = a.integer(0, "version", 1);
  const int64_t sms = a.integer(1, "planSms", 0);
  if (v > 1000 || sms > 100000) a.fail("version must be <= 1000 and planSms <= 100000");
  cuda::set_gemm_version(int(v), int(sms));
  return info.Env().Undefined();
}

Napi::Value GemmVersion(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cuda::gemm_version());
}

Napi::Value GemmSplits(const Napi::CallbackInfo& info) {
  Args a(info, "gemmSplits", 4);
  return Napi::Number::New(info.Env(), cuda::gemm_splits(a.integer(0, "M"), a.integer(1, "N"),
                                                         a.integer(2, "K"), a.integer(3, "batch")));
}

Napi::Value CudaTimerStart(const Napi::CallbackInfo& info) {
  cuda::timer_start();
  return info.Env().Undefined();
}

Napi::Value CudaTimerStopMs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cuda::timer_stop_ms());
}
#else
Napi::Value NoCuda(const Napi::CallbackInfo& info) {
  Napi::Error::New(info.Env(), "this addon was built without CUDA (npm run build:native)")
      .ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
#endif

}  // namespace

void register_kernel_versions(Napi::Env env, Napi::Object exports) {
#ifdef CLLM4REC_CUDA
  export_function(env, exports, "setGemmVersion", SetGemmVersion);
  export_function(env, exports, "gemmVersion", GemmVersion);
  export_function(env, exports, "gemmSplits", GemmSplits);
  export_function(env, exports, "cudaTimerStart", CudaTimerStart);
  export_function(env, exports, "cudaTimerStopMs", CudaTimerStopMs);
#else
  for (const char* name : {"setGemmVersion", "gemmVersion", "gemmSplits", "cudaTimerStart", "cudaTimerStopMs"})
    export_function(env, exports, name, NoCuda);
#endif
}

}  // namespace addon
