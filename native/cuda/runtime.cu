// Device management: device discovery, the one stream, a caching allocator over plain
// cudaMalloc (size-bucketed free lists, never managed memory), copies and error checks.
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>
#include "common.cuh"

namespace cuda {
namespace detail {

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  // The failed call is also the runtime's "last error": clear it, or the next launch
  // check would report it against an unrelated op.
  cudaGetLastError();
  throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e) + " (" +
                           cudaGetErrorName(e) + ")");
}

cudaStream_t stream() {
  static cudaStream_t s = [] {
    cudaStream_t created = nullptr;
    check(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking),
          "cudaStreamCreateWithFlags");
    return created;
  }();
  return s;
}

}  // namespace detail

namespace {

using detail::check;

// The device status block (common.cuh) and whether a launch since the last read may have
// written it: syncs read it only then, so no other sync pays for the copy.
struct StatusBlock {
  detail::DeviceStatus* dev = nullptr;
  bool due = false;
};

StatusBlock& status_block() {
  static StatusBlock b;
  return b;
}

std::string describe(const detail::DeviceStatus& s) {
  static const char* const ops[] = {"unknown kernel", "crossEntropyForward", "crossEntropyBackward",
                                    "multinomialNllForward", "multinomialNllBackward"};
  const std::string op = ops[s.op >= 1 && s.op <= 4 ? s.op : 0], v = std::to_string(s.value),
                    row = std::to_string(s.row), limit = std::to_string(s.limit);
  const bool csr = s.op == detail::kCheckMultinomialNllForward || s.op == detail::kCheckMultinomialNllBackward;
  const std::string what =
      s.kind == detail::kBadRowPointer ? "rowPtr " + v + " of row " + row + " is out of order or past nnz " + limit
      : s.kind == detail::kColumnOrder
          ? "column " + v + " of row " + row + " is not above the previous column (a row's columns must increase)"
                                       : (csr ? "column " : "target ") + v + " of row " + row + " is outside [0, " + limit + ")";
  return op + ": " + what + " (found on the device by the kernel, which wrote NaN for that row; reported at this sync)";
}

// Drains the stream; when the status block is due, reads it in the same drain and throws
// std::out_of_range for a recorded bad value (clearing it, so the next launches start clean).
void sync_and_check(const char* what) {
  StatusBlock& b = status_block();
  detail::DeviceStatus host{};
  const bool read = b.due && b.dev != nullptr;
  if (read)
    check(cudaMemcpyAsync(&host, b.dev, sizeof host, cudaMemcpyDeviceToHost, detail::stream()),
          what);
  check(cudaStreamSynchronize(detail::stream()), what);
  if (!read) return;
  b.due = false;
  if (host.flag == 0) return;
  check(cudaMemsetAsync(b.dev, 0, sizeof host, detail::stream()), what);
  throw std::out_of_range(describe(host));
}

// Bucket = the request rounded up to one of 4 steps per power of two (<= 25% waste),
// at least 512 bytes, so a freed block can serve any request of the same bucket.
size_t bucket_size(size_t bytes) {
#ifdef CLLM4REC_CUDASIM
  return bytes;  // exact sizes in the simulator: bucket slack would hide overruns
#endif
  size_t b = bytes < 512 ? 512 : bytes;
  size_t p = 1;
  while (p * 2 <= b) p *= 2;  // largest power of two <= b
  size_t step = p / 4 ? p / 4 : 1;
  return (b + step - 1) / step * step;
}

struct Allocator {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_lists;  // bucket size -> cached blocks
  std::unordered_map<void*, size_t> live;           // block -> bucket size
  size_t cached = 0;

  // Frees every cached block; caller holds mu.
  void empty_locked() {
    if (cached == 0) return;
    // Pending kernels may still use a block that was released to the cache.
    check(cudaStreamSynchronize(detail::stream()), "cudaStreamSynchronize (empty_cache)");
    // Each block leaves its list once freed, so a failing cudaFree (which throws)
    // leaves exactly the blocks not yet freed in the cache, and `cached` right.
    for (auto& kv : free_lists) {
      std::vector<void*>& list = kv.second;
      while (!list.empty()) {
        check(cudaFree(list.back()), "cudaFree (empty_cache)");
        list.pop_back();
        cached -= kv.first;
      }
    }
    free_lists.clear();
  }
};

Allocator& allocator() {
  static Allocator* a = new Allocator();  // never destroyed: finalizers may run at exit
  return *a;
}

bool sync_every_launch() {
  static const bool on = [] {
    const char* v = std::getenv("CLLM4REC_SYNC");
    return v && std::strcmp(v, "1") == 0;
  }();
  return on;
}

}  // namespace

// Why no device answers ("" when one does): e.g. an older driver than the static
// cudart needs reads cudaErrorInsufficientDriver, not "no GPU".
std::string& device_error_text() {
  static std::string text;
  return text;
}

int device_count() {
  static int count = [] {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();  // not an error for the caller, but its cause is kept
      device_error_text() = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(e) +
                            " (" + cudaGetErrorString(e) + ")";
      return 0;
    }
    if (n == 0) device_error_text() = "cudaGetDeviceCount = 0";
    return n;
  }();
  return count;
}

const char* device_error() {
  device_count();
  return device_error_text().c_str();
}

const char* device_name() {
  static std::string name = [] {
    if (device_count() == 0) return std::string();
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
      cudaGetLastError();
      return std::string();
    }
    return std::string(prop.name);
  }();
  return name.c_str();
}

void* alloc(size_t bytes) {
  if (device_count() == 0)
    throw std::runtime_error(std::string("cuda::alloc: no CUDA device answers (") + device_error() +
                             ")");
  Allocator& a = allocator();
  const size_t size = bucket_size(bytes);
  std::lock_guard<std::mutex> lock(a.mu);
  auto it = a.free_lists.find(size);
  if (it != a.free_lists.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    a.cached -= size;
    a.live[p] = size;
#ifdef CLLM4REC_CUDASIM
    std::memset(p, 0xff, size);  // a reused block is as undefined as a fresh one
#endif
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear it, give the cache back to the driver and retry once
    const size_t cachedBefore = a.cached;
    a.empty_locked();
    e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t freeB = 0, totalB = 0;
      cudaMemGetInfo(&freeB, &totalB);
      cudaGetLastError();
      throw std::runtime_error(
          "cuda::alloc: out of memory (cudaMalloc): requested " + std::to_string(bytes) +
          " bytes (bucket " + std::to_string(size) + "); the cache held " +
          std::to_string(cachedBefore) + " bytes (emptied, retried); device free " +
          std::to_string(freeB) + " of " + std::to_string(totalB) + " bytes");
    }
  }
  check(e, ("cuda::alloc: cudaMalloc(" + std::to_string(size) + " bytes)").c_str());
  a.live[p] = size;
  return p;
}

void release(void* p, size_t bytes) {
  if (p == nullptr) return;
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  auto it = a.live.find(p);
  if (it == a.live.end())
    throw std::runtime_error("cuda::release: pointer was not allocated by cuda::alloc "
                             "or was already released (" + std::to_string(bytes) + " bytes)");
  const size_t size = it->second;
  a.live.erase(it);
  a.free_lists[size].push_back(p);
  a.cached += size;
}

void empty_cache() {
  if (device_count() == 0) return;
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  a.empty_locked();
}

size_t cached_bytes() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  return a.cached;
}

namespace {

// Uploads go through a pinned staging ring: from pinned memory cudaMemcpyAsync is truly
// asynchronous (from pageable memory the driver stages the source before returning, in
// effect a wait on the stream). A region of the ring is written again only after the
// event recorded behind its copy has completed, so the caller's source is free at once.
struct Staging {
  std::mutex mu;
  char* base = nullptr;
  size_t cap = 0, head = 0;
  bool failed = false;  // cudaHostAlloc failed once: pageable copies from then on
  struct Region {
    size_t start, end;
    cudaEvent_t done;
  };
  std::deque<Region> inflight;  // in ring order, oldest first
  std::vector<cudaEvent_t> idle;
};

Staging& staging() {
  static Staging* s = new Staging();  // never destroyed: copies may be in flight at exit
  return *s;
}

// CLLM4REC_PINNED_MB (default 64): the ring's size; uploads larger than it go pageable.
size_t staging_bytes() {
  static const size_t mb = [] {
    const char* v = std::getenv("CLLM4REC_PINNED_MB");
    const long n = v ? std::strtol(v, nullptr, 10) : 64;
    return size_t(n >= 0 ? n : 64);
  }();
  return mb << 20;
}

// Retires the oldest region (waiting for its copy when `wait`); false when it is still busy.
bool retire_front(Staging& st, bool wait) {
  Staging::Region& f = st.inflight.front();
  if (wait) {
    check(cudaEventSynchronize(f.done), "cuda::copy_h2d: cudaEventSynchronize");
  } else {
    const cudaError_t e = cudaEventQuery(f.done);
    if (e == cudaErrorNotReady) return false;
    check(e, "cuda::copy_h2d: cudaEventQuery");
  }
  st.idle.push_back(f.done);
  st.inflight.pop_front();
  return true;
}

}  // namespace

void copy_h2d(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  Staging& st = staging();
  std::lock_guard<std::mutex> lock(st.mu);
  if (!st.base && !st.failed && staging_bytes() > 0) {
    void* p = nullptr;
    if (cudaHostAlloc(&p, staging_bytes(), cudaHostAllocDefault) == cudaSuccess) {
      st.base = static_cast<char*>(p);
      st.cap = staging_bytes();
    } else {
      cudaGetLastError();  // not fatal: uploads stay pageable
      st.failed = true;
    }
  }
  if (bytes > st.cap) {  // no ring, or an upload larger than it (e.g. weights at load)
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, detail::stream()),
          "cuda::copy_h2d: cudaMemcpyAsync");
    return;
  }
  while (!st.inflight.empty() && retire_front(st, false)) {
  }
  if (st.head + bytes > st.cap) st.head = 0;
  const size_t a = st.head, b = a + bytes;
  // regions of the previous lap still ahead of the head, oldest (lowest) first
  while (!st.inflight.empty() && st.inflight.front().start < b && a < st.inflight.front().end)
    retire_front(st, true);
  if (st.idle.empty()) {
    cudaEvent_t e = nullptr;
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cuda::copy_h2d: cudaEventCreate");
    st.idle.push_back(e);
  }
  std::memcpy(st.base + a, src, bytes);
  check(cudaMemcpyAsync(dst, st.base + a, bytes, cudaMemcpyHostToDevice, detail::stream()),
        "cuda::copy_h2d: cudaMemcpyAsync");
  cudaEvent_t e = st.idle.back();
  st.idle.pop_back();
  check(cudaEventRecord(e, detail::stream()), "cuda::copy_h2d: cudaEventRecord");
  st.inflight.push_back({a, b, e});
  st.head = (b + 255) / 256 * 256;  // aligned starts for the copy engine
}

void copy_d2h(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, detail::stream()),
        "cuda::copy_d2h: cudaMemcpyAsync");
  sync_and_check("cuda::copy_d2h: cudaStreamSynchronize");
}

void copy_d2d(void* dst, const void* src, size_t bytes) {
  if (bytes == 0 || dst == src) return;
  const uintptr_t d = reinterpret_cast<uintptr_t>(dst), s = reinterpret_cast<uintptr_t>(src);
  if (d < s + bytes && s < d + bytes) {
    // Overlapping ranges (cudaMemcpy is undefined there): memmove through a scratch copy.
    detail::Scratch tmp(bytes);
    check(cudaMemcpyAsync(tmp.as<void>(), src, bytes, cudaMemcpyDeviceToDevice, detail::stream()),
          "cuda::copy_d2d (overlap): cudaMemcpyAsync");
    check(cudaMemcpyAsync(dst, tmp.as<void>(), bytes, cudaMemcpyDeviceToDevice, detail::stream()),
          "cuda::copy_d2d (overlap): cudaMemcpyAsync");
    return;
  }
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, detail::stream()),
        "cuda::copy_d2d: cudaMemcpyAsync");
}

namespace detail {

DeviceStatus* device_status() {
  StatusBlock& b = status_block();
  if (b.dev == nullptr) {  // once per process, never freed (kernels may still hold it)
    void* p = nullptr;
    check(cudaMalloc(&p, sizeof(DeviceStatus)), "cuda::device_status: cudaMalloc");
    check(cudaMemsetAsync(p, 0, sizeof(DeviceStatus), stream()), "cuda::device_status: cudaMemsetAsync");
    b.dev = static_cast<DeviceStatus*>(p);
  }
  b.due = true;
  return b.dev;
}

}  // namespace detail

void synchronize() {
  if (device_count() == 0) return;
  sync_and_check("cuda::synchronize: cudaStreamSynchronize");
}

void check_last(const char* op) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("cuda::") + op + ": kernel launch failed: " +
                             cudaGetErrorString(e));
  if (sync_every_launch()) {
    e = cudaStreamSynchronize(detail::stream());
    if (e != cudaSuccess)
      throw std::runtime_error(std::string("cuda::") + op +
                               ": kernel failed (CLLM4REC_SYNC=1): " + cudaGetErrorString(e));
    sync_and_check("cuda::check_last (CLLM4REC_SYNC=1)");  // a bad value, at its own launch
  }
}

}  // namespace cuda
