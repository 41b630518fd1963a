// Buffer lifetime: allocation (zeroed), idempotent release, External wrapping and the
// per-device accounting behind stats().
#include "buffer.h"

#include <cstdlib>
#include <cstring>

#include "kernels.h"

namespace addon {

namespace {
// Distinguishes our Externals from any other External a caller might pass.
constexpr napi_type_tag kBufferTag = {0x636c6c6d34726563ULL, 0x6e6174697665627fULL};
}  // namespace

const char* device_name(int device) { return device == kCuda ? "cuda" : "cpu"; }
const char* dtype_name(int dtype) { return dtype == kI32 ? "int32" : "float32"; }

Accounting& accounting() {
  static Accounting a;
  return a;
}

void count_launch(const char* kernel) { accounting().launches[kernel] += 1; }

Buffer* allocate(Napi::Env env, int device, int dtype, int64_t numel) {
  const size_t bytes = size_t(numel) * 4;
  void* ptr = nullptr;
  if (device == kCuda) {
#ifdef CLLM4REC_CUDA
    if (cuda::device_count() == 0)
      throw Napi::Error::New(env, "alloc: CUDA is not available: no GPU answers");
    if (bytes > 0) {
      ptr = cuda::alloc(bytes);  // throws std::runtime_error on OOM; the caller rethrows
      cuda::fill(static_cast<float*>(ptr), 0.0f, numel);  // 0.0f is all-zero bits: also int32 0
      cuda::check_last("alloc");
    }
#else
    throw Napi::Error::New(env,
                           "alloc: CUDA is not available: this addon was built without CUDA "
                           "(run `npm run build:native` on a machine with nvcc)");
#endif
  } else if (bytes > 0) {
    ptr = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!ptr)
      throw Napi::Error::New(env, "alloc: out of host memory allocating " +
                                      std::to_string(bytes) + " bytes");
    std::memset(ptr, 0, bytes);
  }
  Buffer* buf = new Buffer{device, dtype, numel, ptr, false};
  accounting().bytes[device] += int64_t(bytes);
  accounting().liveBuffers += 1;
  return buf;
}

void release(Buffer* buf) {
  if (buf->freed) return;
  buf->freed = true;
  if (buf->ptr) {
#ifdef CLLM4REC_CUDA
    if (buf->device == kCuda)
      cuda::release(buf->ptr, buf->bytes());
    else
      std::free(buf->ptr);
#else
    std::free(buf->ptr);
#endif
  }
  buf->ptr = nullptr;
  accounting().bytes[buf->device] -= int64_t(buf->bytes());
  accounting().liveBuffers -= 1;
}

Napi::External<Buffer> wrap(Napi::Env env, Buffer* buf) {
  auto ext = Napi::External<Buffer>::New(env, buf, [](Napi::Env, Buffer* b) {
    try {
      release(b);
    } catch (...) {
      // A finalizer must not throw; the memory is lost rather than the process.
    }
    delete b;
  });
  ext.TypeTag(&kBufferTag);
  return ext;
}

Buffer* unwrap(const Napi::Value& value) {
  if (!value.IsExternal()) return nullptr;
  auto ext = value.As<Napi::External<Buffer>>();
  if (!ext.CheckTypeTag(&kBufferTag)) return nullptr;
  return ext.Data();
}

}  // namespace addon
