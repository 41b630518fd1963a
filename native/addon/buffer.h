// Native buffers as seen by the addon: a typed, device-tagged block of memory behind
// an N-API External, plus the live-memory and launch accounting reported by stats().
#pragma once
#include <napi.h>

#include <cstdint>
#include <map>
#include <string>

namespace addon {

enum Device : int { kCpu = 0, kCuda = 1 };
enum DType : int { kF32 = 0, kI32 = 1 };

struct Buffer {
  int device;
  int dtype;
  int64_t numel;
  void* ptr;
  bool freed;
  size_t bytes() const { return size_t(numel) * 4; }  // f32 and i32 are both 4 bytes
};

const char* device_name(int device);
const char* dtype_name(int dtype);

// Allocates a zero-initialised buffer; throws Napi::Error when the device is missing or
// the memory is exhausted.
Buffer* allocate(Napi::Env env, int device, int dtype, int64_t numel, bool zero = true);
// Releases the memory once (idempotent); the Buffer struct stays for isFreed(). Host
// memory goes back to a bounded per-size cache for the next allocation of that size.
void release(Buffer* buf);
// Bytes held by the host block cache, and returning them to the system.
size_t host_cached_bytes();
size_t host_cache_misses();  // host blocks that came from malloc, since the process started
void host_empty_cache();
// Copies the first bytes of a buffer to host memory (from the GPU when it lives there).
void read_back(const Buffer* buf, void* dst, size_t bytes);
// Wraps a Buffer in a type-tagged External whose finalizer releases it as a backstop.
Napi::External<Buffer> wrap(Napi::Env env, Buffer* buf);
// The Buffer behind a value, or nullptr when the value is not one of our Externals.
Buffer* unwrap(const Napi::Value& value);

struct Accounting {
  int64_t bytes[2] = {0, 0};
  int64_t liveBuffers = 0;
  std::map<std::string, double> launches;
};
Accounting& accounting();
void count_launch(const char* kernel);

}  // namespace addon
