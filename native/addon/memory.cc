// Memory and device entry points: alloc/free, upload/download/copy, threads, stats.
#include <cstring>
#include <vector>

#include "binder.h"
#ifdef CLLM4REC_CUDASIM
#include <cuda_runtime.h>  // native/cudasim's: its counters for stats().cudaSim
#endif

namespace addon {

namespace {

bool cuda_compiled() {
#ifdef CLLM4REC_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_devices() {
#ifdef CLLM4REC_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cuda_devices());
}

Napi::Value CudaDeviceError(const Napi::CallbackInfo& info) {
#ifdef CLLM4REC_CUDA
  return Napi::String::New(info.Env(), cuda::device_error());
#else
  return Napi::String::New(info.Env(), "built without CUDA");
#endif
}

Napi::Value CudaDeviceName(const Napi::CallbackInfo& info) {
#ifdef CLLM4REC_CUDA
  return Napi::String::New(info.Env(), cuda::device_name());
#else
  return Napi::String::New(info.Env(), "");
#endif
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Args a(info, "setNumThreads", 1);
  cpu::set_num_threads(int(a.integer(0, "n")));
  return info.Env().Undefined();
}

Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cpu::num_threads());
}

// alloc(device, dtype, numel): zeroed; allocEmpty(...): contents undefined (for outputs an op
// writes in full: a forward's activations need no zero pass over memory).
Napi::Value AllocWith(const Napi::CallbackInfo& info, const char* op, bool zero) {
  Args a(info, op, 3);
  const int64_t device = a.integer(0, "device");
  const int64_t dtype = a.integer(1, "dtype");
  const int64_t numel = a.integer(2, "numel");
  if (device > 1) a.fail("device must be 0 (cpu) or 1 (cuda), got " + std::to_string(device));
  if (dtype > 1) a.fail("dtype must be 0 (float32) or 1 (int32), got " + std::to_string(dtype));
  if (numel > (int64_t(1) << 40)) a.fail("numel " + std::to_string(numel) + " is too large");
  return wrap(info.Env(), allocate(info.Env(), int(device), int(dtype), numel, zero));
}

Napi::Value Alloc(const Napi::CallbackInfo& info) { return AllocWith(info, "alloc", true); }
Napi::Value AllocEmpty(const Napi::CallbackInfo& info) { return AllocWith(info, "allocEmpty", false); }

Buffer* any_buffer(const Napi::CallbackInfo& info, const char* op) {
  if (info.Length() != 1)
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": expected 1 argument, got " +
                                               std::to_string(info.Length()));
  Buffer* b = unwrap(info[0]);
  if (!b) throw Napi::TypeError::New(info.Env(), std::string(op) + ": buf must be a native buffer");
  return b;
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  release(any_buffer(info, "free"));
  return info.Env().Undefined();
}

Napi::Value IsFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), any_buffer(info, "isFreed")->freed);
}

Napi::Value Numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(any_buffer(info, "numel")->numel));
}

Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), any_buffer(info, "deviceOf")->device);
}

Napi::Value DtypeOf(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), any_buffer(info, "dtypeOf")->dtype);
}

// The data of the host typed array at argument i, checked against buf's dtype and length.
void* checked_typed_array(const Napi::CallbackInfo& info, Args& a, const Buffer* buf, size_t i) {
  if (!info[i].IsTypedArray()) a.type_error("expected a Float32Array or Int32Array");
  auto arr = info[i].As<Napi::TypedArray>();
  const napi_typedarray_type want =
      buf->dtype == kF32 ? napi_float32_array : napi_int32_array;
  if (arr.TypedArrayType() != want)
    a.type_error(std::string("buffer is ") + dtype_name(buf->dtype) + ", so the array must be " +
                 (buf->dtype == kF32 ? "a Float32Array" : "an Int32Array"));
  if (int64_t(arr.ElementLength()) != buf->numel)
    a.fail("array length " + std::to_string(arr.ElementLength()) + " != buffer numel " +
           std::to_string(buf->numel));
  return static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
}

Napi::Value Upload(const Napi::CallbackInfo& info) {
  Args a(info, "upload", 2);
  Buffer* buf = unwrap(info[0]);
  if (!buf) a.type_error("buf must be a native buffer");
  buf = a.buffer(0, "buf", buf->dtype);
  void* src = checked_typed_array(info, a, buf, 1);
  if (buf->numel == 0) return info.Env().Undefined();
#ifdef CLLM4REC_CUDA
  if (buf->device == kCuda) {
    cuda::copy_h2d(buf->ptr, src, buf->bytes());
    return info.Env().Undefined();
  }
#endif
  std::memcpy(buf->ptr, src, buf->bytes());
  return info.Env().Undefined();
}

Napi::Value Download(const Napi::CallbackInfo& info) {
  Args a(info, "download", 2);
  Buffer* buf = unwrap(info[0]);
  if (!buf) a.type_error("buf must be a native buffer");
  buf = a.buffer(0, "buf", buf->dtype);
  read_back(buf, checked_typed_array(info, a, buf, 1), buf->bytes());
  return info.Env().Undefined();
}

Napi::Value Copy(const Napi::CallbackInfo& info) {
  Args a(info, "copy", 5);
  Buffer* dst = unwrap(info[0]);
  Buffer* src = unwrap(info[2]);
  if (!dst) a.type_error("dst must be a native buffer");
  if (!src) a.type_error("src must be a native buffer");
  if (dst->freed) a.fail("dst was already freed");
  if (src->freed) a.fail("src was already freed");
  if (dst->dtype != src->dtype)
    a.type_error(std::string("dst is ") + dtype_name(dst->dtype) + " but src is " +
                 dtype_name(src->dtype));
  const int64_t dstOff = a.integer(1, "dstOff");
  const int64_t srcOff = a.integer(3, "srcOff");
  const int64_t n = a.integer(4, "n");
  a.shape("n", n);
  a.extent(dst, "dst", dstOff, n);
  a.extent(src, "src", srcOff, n);
  if (n == 0) return info.Env().Undefined();
  count_launch("copy");
  void* d = static_cast<float*>(dst->ptr) + dstOff;
  const void* s = static_cast<const float*>(src->ptr) + srcOff;
  const size_t bytes = size_t(n) * 4;
#ifdef CLLM4REC_CUDA
  if (dst->device == kCuda && src->device == kCuda) {
    cuda::copy_d2d(d, s, bytes);
    cuda::check_last("copy");
    return info.Env().Undefined();
  }
  if (dst->device == kCuda) {
    cuda::copy_h2d(d, s, bytes);
    return info.Env().Undefined();
  }
  if (src->device == kCuda) {
    cuda::copy_d2h(d, s, bytes);
    return info.Env().Undefined();
  }
#endif
  std::memmove(d, s, bytes);
  return info.Env().Undefined();
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
#ifdef CLLM4REC_CUDA
  if (cuda::device_count() > 0) cuda::synchronize();
#endif
  return info.Env().Undefined();
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  host_empty_cache();
#ifdef CLLM4REC_CUDA
  if (cuda::device_count() > 0) cuda::empty_cache();
#endif
  return info.Env().Undefined();
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Accounting& acc = accounting();
  Napi::Object s = Napi::Object::New(env);
  s.Set("cpuBytes", Napi::Number::New(env, double(acc.bytes[kCpu])));
  s.Set("cudaBytes", Napi::Number::New(env, double(acc.bytes[kCuda])));
#ifdef CLLM4REC_CUDA
  s.Set("cudaCachedBytes", Napi::Number::New(env, double(cuda::cached_bytes())));
#else
  s.Set("cudaCachedBytes", Napi::Number::New(env, 0));
#endif
  s.Set("cpuCachedBytes", Napi::Number::New(env, double(host_cached_bytes())));
  s.Set("cpuCacheMisses", Napi::Number::New(env, double(host_cache_misses())));
  s.Set("liveBuffers", Napi::Number::New(env, double(acc.liveBuffers)));
  Napi::Object launches = Napi::Object::New(env);
  for (const auto& kv : acc.launches) launches.Set(kv.first, Napi::Number::New(env, kv.second));
  s.Set("launches", launches);
#ifdef CLLM4REC_CUDASIM
  const cudasim::Stats sim = cudasim::stats();  // cumulative since the process started
  Napi::Object so = Napi::Object::New(env);
  so.Set("launches", Napi::Number::New(env, double(sim.launches)));
  so.Set("d2hCopies", Napi::Number::New(env, double(sim.d2h_copies)));
  so.Set("streamSyncs", Napi::Number::New(env, double(sim.stream_syncs)));
  so.Set("h2dPinned", Napi::Number::New(env, double(sim.h2d_pinned)));
  so.Set("h2dPageable", Napi::Number::New(env, double(sim.h2d_pageable)));
  so.Set("deviceMallocs", Napi::Number::New(env, double(sim.device_mallocs)));
  so.Set("eventSyncs", Napi::Number::New(env, double(sim.event_syncs)));
  s.Set("cudaSim", so);
#endif
  return s;
}

Napi::Value ResetStats(const Napi::CallbackInfo& info) {
  accounting().launches.clear();
  return info.Env().Undefined();
}

}  // namespace

void register_memory(Napi::Env env, Napi::Object exports) {
  exports.Set("hasCuda", Napi::Boolean::New(env, cuda_compiled()));
#ifdef CLLM4REC_CUDASIM
  exports.Set("cudaSimulator", Napi::Boolean::New(env, true));  // native/cudasim, not a GPU
#else
  exports.Set("cudaSimulator", Napi::Boolean::New(env, false));
#endif
  export_function(env, exports, "cudaDeviceCount", CudaDeviceCount);
  export_function(env, exports, "cudaDeviceName", CudaDeviceName);
  export_function(env, exports, "cudaDeviceError", CudaDeviceError);
  export_function(env, exports, "setNumThreads", SetNumThreads);
  export_function(env, exports, "numThreads", NumThreads);
  export_function(env, exports, "alloc", Alloc);
  export_function(env, exports, "allocEmpty", AllocEmpty);
  export_function(env, exports, "free", Free);
  export_function(env, exports, "isFreed", IsFreed);
  export_function(env, exports, "numel", Numel);
  export_function(env, exports, "deviceOf", DeviceOf);
  export_function(env, exports, "dtypeOf", DtypeOf);
  export_function(env, exports, "upload", Upload);
  export_function(env, exports, "download", Download);
  export_function(env, exports, "copy", Copy);
  export_function(env, exports, "synchronize", Synchronize);
  export_function(env, exports, "emptyCache", EmptyCache);
  export_function(env, exports, "stats", Stats);
  export_function(env, exports, "resetStats", ResetStats);
}

}  // namespace addon
