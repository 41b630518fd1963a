// Buffer lifetime: allocation (zeroed), idempotent release, External wrapping and the
// per-device accounting behind stats().
#include "buffer.h"

#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <cstring>
#include <unordered_map>
#include <vector>

#include "kernels.h"

namespace addon {

namespace {
// Distinguishes our Externals from any other External a caller might pass.
constexpr napi_type_tag kBufferTag = {0x636c6c6d34726563ULL, 0x6e6174697665627fULL};
}  // namespace

const char* device_name(int device) { return device == kCuda ? "cuda" : "cpu"; }
const char* dtype_name(int dtype) { return dtype == kI32 ? "int32" : "float32"; }

namespace {
// Host blocks are reused: a training step allocates the same activation sizes every step,
// and a fresh large malloc is an mmap whose pages fault in (zeroed by the kernel) on first
// touch; at GPT-2 small that cost 16% of a forward + backward. Freed blocks wait in
// per-size-class lists, and the cache never makes the process hold more than 1/16 above the
// most that was ever live at once: a miss first frees cached blocks (largest first) until
// live + cached + the new block fits under that bound, so a phase with other sizes (e.g.
// evaluation after training) evicts instead of adding to the peak. The 1/16 of slack is what
// a GPT-2 small forward + backward needed for no misses after its first step (with none,
// 60 of its ~250 blocks per step kept coming from malloc). CLLM4REC_HOST_CACHE_MB caps the
// cache (default 4096; 0 turns it off), and emptyCache() returns it.
struct HostCache {
  std::unordered_map<size_t, std::vector<void*>> free;
  size_t bytes = 0;  // cached
  size_t live = 0;   // handed out (class sizes)
  size_t peak = 0;   // the most ever live
  size_t misses = 0;  // blocks that came from malloc
  size_t limit = 0;
  HostCache() {
    const char* env = std::getenv("CLLM4REC_HOST_CACHE_MB");
    limit = size_t(env && *env ? std::strtoull(env, nullptr, 10) : 4096) << 20;
#if defined(__GLIBC__)
    // glibc raises its mmap threshold after every large free (up to 32 MiB) and then serves large
    // blocks from the heap, where freed activations fragment: RSS grew ~540 MB per GPT-2 small
    // step with every buffer freed. A fixed threshold keeps large blocks mmaps that free() returns.
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
#endif
  }
  // Frees cached blocks, largest class first, until `room` more bytes fit under the bound.
  void evict_for(size_t room) {
    const size_t cap = peak + peak / 16;
    while (bytes > 0 && live + bytes + room > cap) {
      auto victim = free.end();
      for (auto it = free.begin(); it != free.end(); ++it)
        if (!it->second.empty() && (victim == free.end() || it->first > victim->first)) victim = it;
      std::free(victim->second.back());
      victim->second.pop_back();
      bytes -= victim->first;
    }
  }
};

HostCache& host_cache() {
  static HostCache c;
  return c;
}

// Size classes: 64-byte multiples up to 4 KiB, then eight classes per power of two, so a
// block serves requests up to 12.5% smaller than itself.
size_t host_class(size_t bytes) {
  bytes = (bytes + 63) / 64 * 64;
  if (bytes <= 4096) return bytes;
  size_t p = 4096;
  while (p < bytes) p <<= 1;
  const size_t step = p / 16;
  return (bytes + step - 1) / step * step;
}

void* host_alloc(size_t bytes) {
  const size_t cls = host_class(bytes);
  HostCache& c = host_cache();
  auto it = c.free.find(cls);
  if (it != c.free.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    c.bytes -= cls;
    c.live += cls;
    return p;
  }
  if (c.live + cls > c.peak) c.peak = c.live + cls;
  c.evict_for(cls);
  void* p = std::aligned_alloc(64, cls);
  if (!p && c.bytes > 0) {  // out of memory: give every cached block back, then try once more
    host_empty_cache();
    p = std::aligned_alloc(64, cls);
  }
  if (p) c.live += cls;
  c.misses += 1;
  return p;
}

void host_free(void* p, size_t bytes) {
  const size_t cls = host_class(bytes);
  HostCache& c = host_cache();
  c.live -= cls;
  if (c.bytes + cls > c.limit) {
    std::free(p);
    return;
  }
  c.free[cls].push_back(p);
  c.bytes += cls;
}
}  // namespace

size_t host_cached_bytes() { return host_cache().bytes; }
size_t host_cache_misses() { return host_cache().misses; }

void host_empty_cache() {
  HostCache& c = host_cache();
  for (auto& kv : c.free)
    for (void* p : kv.second) std::free(p);
  c.free.clear();
  c.bytes = 0;
  c.peak = c.live;
}

Accounting& accounting() {
  static Accounting a;
  return a;
}

void count_launch(const char* kernel) { accounting().launches[kernel] += 1; }

// CLLM4REC_POISON_EMPTY=1 (set by the test runners) fills unzeroed blocks with NaN bits (for
// int32: 2143289344, an index no tensor has), so a read of an element an op never wrote shows.
bool poison_empty() {
  static const bool on = [] {
    const char* e = std::getenv("CLLM4REC_POISON_EMPTY");
    return e && *e && std::strcmp(e, "0") != 0;
  }();
  return on;
}

Buffer* allocate(Napi::Env env, int device, int dtype, int64_t numel, bool zero) {
  const float fillValue = zero ? 0.0f : __builtin_nanf("");  // 0.0f is all-zero bits: also int32 0
  const size_t bytes = size_t(numel) * 4;
  void* ptr = nullptr;
  if (device == kCuda) {
#ifdef CLLM4REC_CUDA
    if (cuda::device_count() == 0)
      throw Napi::Error::New(env, "alloc: CUDA is not available: no GPU answers");
    if (bytes > 0) {
      ptr = cuda::alloc(bytes);  // throws std::runtime_error on OOM; the caller rethrows
      if (zero || poison_empty()) cuda::fill(static_cast<float*>(ptr), fillValue, numel);
      cuda::check_last("alloc");
    }
#else
    throw Napi::Error::New(env,
                           "alloc: CUDA is not available: this addon was built without CUDA "
                           "(run `npm run build:native` on a machine with nvcc)");
#endif
  } else if (bytes > 0) {
    ptr = host_alloc(bytes);
    if (!ptr)
      throw Napi::Error::New(env, "alloc: out of host memory allocating " +
                                      std::to_string(bytes) + " bytes");
    if (zero || poison_empty()) cpu::fill(static_cast<float*>(ptr), fillValue, numel);  // parallel if large
  }
  Buffer* buf = new Buffer{device, dtype, numel, ptr, false};
  accounting().bytes[device] += int64_t(bytes);
  accounting().liveBuffers += 1;
  return buf;
}

void read_back(const Buffer* buf, void* dst, size_t bytes) {
  if (bytes == 0) return;
#ifdef CLLM4REC_CUDA
  if (buf->device == kCuda) {
    cuda::copy_d2h(dst, buf->ptr, bytes);
    return;
  }
#endif
  std::memcpy(dst, buf->ptr, bytes);
}

void release(Buffer* buf) {
  if (buf->freed) return;
  buf->freed = true;
  if (buf->ptr) {
#ifdef CLLM4REC_CUDA
    if (buf->device == kCuda)
      cuda::release(buf->ptr, buf->bytes());
    else
      host_free(buf->ptr, buf->bytes());
#else
    host_free(buf->ptr, buf->bytes());
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
