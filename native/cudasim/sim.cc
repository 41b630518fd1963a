// The CUDA simulator's engine: fibers (one per CUDA thread, a small x86-64 context
// switch), the block scheduler that resolves warp ops and barriers strictly, shared
// memory, cp.async, and the fake runtime API over exact-size poisoned host memory.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#define CUDASIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CUDASIM_ASAN 1
#endif
#endif

#ifdef CUDASIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace cudasim {

thread_local ThreadVars* tls_vars = nullptr;

namespace {

// ---------------------------------------------------------------- settings

enum class Order { Forward, Reverse, Random };

struct Settings {
  Order order = Order::Forward;
  uint64_t seed = 1;
  size_t stack = 0;
  size_t memLimit = size_t(16) << 30;  // the simulated device's memory
  std::string scheduleText = "forward";
};

const Settings& settings() {
  static Settings s = [] {
    Settings r;
    if (const char* v = std::getenv("CUDASIM_SCHEDULE")) {
      r.scheduleText = v;
      if (std::strcmp(v, "forward") == 0) r.order = Order::Forward;
      else if (std::strcmp(v, "reverse") == 0) r.order = Order::Reverse;
      else if (std::strncmp(v, "random", 6) == 0) {
        r.order = Order::Random;
        r.seed = v[6] == ':' ? std::strtoull(v + 7, nullptr, 10) : 1;
      } else {
        std::fprintf(stderr, "cudasim: CUDASIM_SCHEDULE=%s is not forward|reverse|random:SEED\n", v);
        std::abort();
      }
    }
#ifdef CUDASIM_ASAN
    r.stack = 256 << 10;  // ASan frames are several times larger
#else
    r.stack = 64 << 10;
#endif
    if (const char* v = std::getenv("CUDASIM_STACK_KB")) r.stack = size_t(std::atoi(v)) << 10;
    if (const char* v = std::getenv("CUDASIM_MEM_MB")) r.memLimit = size_t(std::atoll(v)) << 20;
    return r;
  }();
  return s;
}

// ---------------------------------------------------------------- errors

std::mutex g_err_mu;
cudaError_t g_last = cudaSuccess;
std::string g_last_detail;

void set_error(cudaError_t e, const std::string& detail) {
  std::lock_guard<std::mutex> lock(g_err_mu);
  if (g_last == cudaSuccess) {  // the first error is kept, like a sticky launch error
    g_last = e;
    g_last_detail = detail;
  }
}

std::string vformat(const char* fmt, va_list ap) {
  char buf[2048];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  return buf;
}

// ---------------------------------------------------------------- context switch

#if defined(__x86_64__)
// switch_stack(save, to): pushes the callee-saved registers and the FP control words,
// stores rsp in *save, loads `to` and pops the same frame from there.
extern "C" void cudasim_switch_stack(void** save, void* to);
extern "C" void cudasim_fiber_trampoline();
asm(R"(
  .text
  .globl cudasim_switch_stack
  .type cudasim_switch_stack,@function
cudasim_switch_stack:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cudasim_switch_stack,.-cudasim_switch_stack

  .globl cudasim_fiber_trampoline
  .type cudasim_fiber_trampoline,@function
cudasim_fiber_trampoline:
  movq %rbx, %rdi
  callq *%r12
  ud2
  .size cudasim_fiber_trampoline,.-cudasim_fiber_trampoline
)");
#endif

// ---------------------------------------------------------------- fibers and blocks

enum State : uint8_t { kReady, kWarp, kBarrier, kDone };

struct AsyncCopy {
  void* dst;
  const void* src;
  int bytes;
  int group;
};

struct Fiber {
  void* sp = nullptr;
  char* stack = nullptr;
#if !defined(__x86_64__)
  ucontext_t uc;
#endif
#ifdef CUDASIM_ASAN
  void* fake = nullptr;
#endif
  State state = kReady;
  int linear = 0, lane = 0, warp = 0;
  ThreadVars vars;
  // the pending warp op
  const char* op = nullptr;
  unsigned mask = 0;
  void* payload = nullptr;
  CollectiveFn fn = nullptr;
  // the pending barrier
  const char* file = nullptr;
  int line = 0;
  size_t sharedCursor = 0;
  std::vector<AsyncCopy> copies;
  int openGroup = 0;  // cp.async group the next copy joins
};

struct Block;

// Everything one host thread needs to run blocks: fiber stacks (reused), shared memory.
struct Worker {
  std::vector<Fiber> fibers;
  char* stacks = nullptr;
  size_t stackCount = 0, stackSize = 0;
  // Stacks not held by a live fiber, LIFO: threads that never block reuse one hot stack.
  std::vector<char*> freeStacks;
  std::vector<unsigned char> shared;
  size_t sharedDirty = 0;  // bytes of `shared` touched by the previous block
  void* schedSp = nullptr;
#if !defined(__x86_64__)
  ucontext_t schedUc;
#endif
#ifdef CUDASIM_ASAN
  void* schedFake = nullptr;
  const void* schedBottom = nullptr;
  size_t schedSize = 0;
#endif
  Fiber* current = nullptr;
  // the running launch
  const char* kernel = nullptr;
  void (*body)(void*) = nullptr;
  void* ctx = nullptr;
  dim3 grid, block;
  size_t staticLimit = 0, dynBytes = 0, staticUsed = 0;
  int nthreads = 0;
  bool aborted = false;
  std::string abortMsg;
  std::mt19937_64 rng;
  size_t switches = 0;
};

thread_local Worker* tls_worker = nullptr;

Worker& worker() {
  if (!tls_worker) tls_worker = new Worker();  // per host thread, kept for reuse
  return *tls_worker;
}

std::string where(const Fiber& f) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "thread (%u,%u,%u) of block (%u,%u,%u)", f.vars.tid.x,
                f.vars.tid.y, f.vars.tid.z, f.vars.bid.x, f.vars.bid.y,
                f.vars.bid.z);
  return buf;
}

void to_scheduler(Worker& w, Fiber& f) {
  ++w.switches;
#if defined(__x86_64__)
#ifdef CUDASIM_ASAN
  __sanitizer_start_switch_fiber(f.state == kDone ? nullptr : &f.fake, w.schedBottom, w.schedSize);
#endif
  cudasim_switch_stack(&f.sp, w.schedSp);
#ifdef CUDASIM_ASAN
  __sanitizer_finish_switch_fiber(f.fake, &w.schedBottom, &w.schedSize);
#endif
#else
  swapcontext(&f.uc, &w.schedUc);
#endif
}

void to_fiber(Worker& w, Fiber& f) {
  w.current = &f;
  tls_vars = &f.vars;
  ++w.switches;
#if defined(__x86_64__)
#ifdef CUDASIM_ASAN
  __sanitizer_start_switch_fiber(&w.schedFake, f.stack, w.stackSize);
#endif
  cudasim_switch_stack(&w.schedSp, f.sp);
#ifdef CUDASIM_ASAN
  __sanitizer_finish_switch_fiber(w.schedFake, nullptr, nullptr);
#endif
#else
  swapcontext(&w.schedUc, &f.uc);
#endif
  w.current = nullptr;
}

void fiber_main(Fiber* f) {
  Worker& w = worker();
#ifdef CUDASIM_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &w.schedBottom, &w.schedSize);
#endif
  w.body(w.ctx);
  f->state = kDone;
  to_scheduler(w, *f);
  std::abort();  // a finished fiber is never resumed
}

#if !defined(__x86_64__)
void fiber_main_uc(unsigned hi, unsigned lo) {
  fiber_main(reinterpret_cast<Fiber*>((uintptr_t(hi) << 32) | lo));
}
#endif

// Aborts the block from inside a fiber: the scheduler drops every fiber of the launch.
// Ends fiber f with the error already in w.abortMsg. Its frames are never unwound, so
// callers build the message in a scope that has closed (no string left on the stack).
[[noreturn]] void abort_from_fiber(Worker& w, Fiber& f) {
  w.aborted = true;
  f.state = kDone;
  to_scheduler(w, f);
  std::abort();
}

void ensure_stacks(Worker& w, size_t n) {
  const size_t size = settings().stack;
  if (w.stackCount >= n && w.stackSize == size) return;
  n = std::max<size_t>(n, 1024);
  if (w.stacks) munmap(w.stacks, w.stackCount * w.stackSize);
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  void* m = mmap(nullptr, n * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    std::fprintf(stderr, "cudasim: cannot map %zu fiber stacks\n", n);
    std::abort();
  }
  w.stacks = static_cast<char*>(m);
  w.stackCount = n;
  w.stackSize = size;
  w.freeStacks.clear();
  for (size_t i = n; i-- > 0;) {
    mprotect(w.stacks + i * size, page, PROT_NONE);  // guard page
    w.freeStacks.push_back(w.stacks + i * size);
  }
  w.fibers.resize(n);
}

void start_fiber(Worker& w, Fiber& f) {
  f.stack = w.freeStacks.back();
  w.freeStacks.pop_back();
#ifdef CUDASIM_ASAN
  // Frames of a fiber that ran to the end are unpoisoned already, except the entry's.
  __asan_unpoison_memory_region(f.stack + w.stackSize - 8192, 8192);
#endif
#if defined(__x86_64__)
  uintptr_t top = reinterpret_cast<uintptr_t>(f.stack + w.stackSize) & ~uintptr_t(15);
  uint64_t* s = reinterpret_cast<uint64_t*>(top);
  *--s = reinterpret_cast<uint64_t>(&cudasim_fiber_trampoline);  // rsp 16-aligned after ret
  *--s = 0;                                          // rbp
  *--s = reinterpret_cast<uint64_t>(&f);             // rbx: the argument
  *--s = reinterpret_cast<uint64_t>(&fiber_main);    // r12: the entry
  *--s = 0;                                          // r13
  *--s = 0;                                          // r14
  *--s = 0;                                          // r15
  uint32_t csr;
  uint16_t cw;
  asm volatile("stmxcsr %0" : "=m"(csr));
  asm volatile("fnstcw %0" : "=m"(cw));
  *--s = uint64_t(csr) | (uint64_t(cw) << 32);
  f.sp = s;
#else
  getcontext(&f.uc);
  f.uc.uc_stack.ss_sp = f.stack + 4096;
  f.uc.uc_stack.ss_size = w.stackSize - 4096;
  f.uc.uc_link = nullptr;
  const uintptr_t p = reinterpret_cast<uintptr_t>(&f);
  makecontext(&f.uc, reinterpret_cast<void (*)()>(fiber_main_uc), 2, unsigned(p >> 32),
              unsigned(p & 0xffffffffu));
#endif
}

unsigned present_mask(const Worker& w, int warp) {
  const int first = warp * 32, n = std::min(32, w.nthreads - first);
  return n >= 32 ? 0xffffffffu : ((1u << n) - 1);
}

std::string hex(unsigned m) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", m);
  return b;
}

// Resolves every warp op whose lanes have all arrived; "" or the error found.
// Called only when no fiber is ready, so a lane not at the op never will be.
bool resolve_warps(Worker& w, std::string& err) {
  bool any = false;
  const int nwarps = (w.nthreads + 31) / 32;
  for (int wp = 0; wp < nwarps; ++wp) {
    Fiber* lanes = &w.fibers[size_t(wp) * 32];
    const int n = std::min(32, w.nthreads - wp * 32);
    for (int l = 0; l < n; ++l) {
      Fiber& f = lanes[l];
      if (f.state != kWarp) continue;
      void* payloads[32] = {};
      for (int k = 0; k < 32; ++k) {
        if (!(f.mask >> k & 1)) continue;
        Fiber& o = lanes[k];
        const std::string who = w.kernel + std::string(": ") + f.op + "(mask " + hex(f.mask) +
                                ") in " + where(f) + ": lane " + std::to_string(k) + " ";
        if (o.state == kDone) {
          err = who + "has exited (a warp op needs every lane of its mask)";
          return false;
        }
        if (o.state == kBarrier) {
          err = who + "waits at __syncthreads (" + o.file + ":" + std::to_string(o.line) +
                ") instead: divergent warp";
          return false;
        }
        if (o.op != f.op || o.mask != f.mask || o.fn != f.fn) {
          err = who + "is at " + o.op + "(mask " + hex(o.mask) + "): mixed warp ops in one warp";
          return false;
        }
        payloads[k] = o.payload;
      }
      f.fn(payloads, f.mask);
      for (int k = 0; k < 32; ++k)
        if (f.mask >> k & 1) lanes[k].state = kReady;
      any = true;
    }
  }
  return any;
}

// After an aborted block: every held stack goes back, its abandoned frames forgotten.
void reclaim_stacks(Worker& w) {
  for (int t = 0; t < w.nthreads; ++t) {
    Fiber& f = w.fibers[size_t(t)];
    if (!f.stack) continue;
#ifdef CUDASIM_ASAN
    __asan_unpoison_memory_region(f.stack + 4096, w.stackSize - 4096);
#endif
    w.freeStacks.push_back(f.stack);
    f.stack = nullptr;
  }
}

void run_block(Worker& w, uint3 bid, std::vector<int>& order) {
  const int n = w.nthreads;
  // Shared memory is undefined at block start: poison what the last block touched.
  std::memset(w.shared.data(), 0xff, w.sharedDirty);
  w.sharedDirty = w.dynBytes;  // this block may write all of its dynamic shared memory
  for (int t = 0; t < n; ++t) {
    Fiber& f = w.fibers[size_t(t)];
    f.state = kReady;
    f.linear = t;
    f.lane = t & 31;
    f.warp = t >> 5;
    f.vars.tid = uint3{unsigned(t) % w.block.x, (unsigned(t) / w.block.x) % w.block.y,
                             unsigned(t) / (w.block.x * w.block.y)};
    f.vars.bid = bid;
    f.vars.bdim = w.block;
    f.vars.gdim = w.grid;
    f.op = nullptr;
    f.sharedCursor = 0;
    f.copies.clear();
    f.openGroup = 0;
    f.stack = nullptr;  // a stack is taken when the thread first runs
  }
  for (;;) {
    if (settings().order == Order::Random) std::shuffle(order.begin(), order.end(), w.rng);
    for (int t : order) {
      Fiber& f = w.fibers[size_t(t)];
      if (f.state != kReady) continue;
      if (!f.stack) start_fiber(w, f);
      to_fiber(w, f);
      if (w.aborted) return;
      if (f.state == kDone) {
        w.freeStacks.push_back(f.stack);
        f.stack = nullptr;
      }
    }
    std::string err;
    if (resolve_warps(w, err)) continue;
    if (!err.empty()) {
      w.aborted = true;
      w.abortMsg = err;
      return;
    }
    int done = 0, atBar = 0;
    const Fiber* firstBar = nullptr;
    const Fiber* firstDone = nullptr;
    for (int t = 0; t < n; ++t) {
      const Fiber& f = w.fibers[size_t(t)];
      if (f.state == kDone) {
        ++done;
        if (!firstDone) firstDone = &f;
      } else if (f.state == kBarrier) {
        ++atBar;
        if (!firstBar) firstBar = &f;
      }
    }
    if (done == n) return;
    if (atBar + done != n) {  // cannot happen: every other state was resolved above
      w.aborted = true;
      w.abortMsg = std::string(w.kernel) + ": deadlock (threads neither ready nor waiting)";
      return;
    }
    if (done > 0) {
      w.aborted = true;
      w.abortMsg = std::string(w.kernel) + ": barrier divergence: " + where(*firstDone) +
                   " has exited while " + std::to_string(atBar) + " threads wait at __syncthreads (" +
                   firstBar->file + ":" + std::to_string(firstBar->line) + ")";
      return;
    }
    for (int t = 0; t < n; ++t) {
      const Fiber& f = w.fibers[size_t(t)];
      if (f.line != firstBar->line || std::strcmp(f.file, firstBar->file) != 0) {
        w.aborted = true;
        w.abortMsg = std::string(w.kernel) + ": barrier divergence: " + where(*firstBar) +
                     " waits at __syncthreads " + firstBar->file + ":" +
                     std::to_string(firstBar->line) + " but " + where(f) + " at " + f.file + ":" +
                     std::to_string(f.line);
        return;
      }
    }
    for (int t = 0; t < n; ++t) w.fibers[size_t(t)].state = kReady;
  }
}

}  // namespace

// ---------------------------------------------------------------- device-side API

int lane_id() { return worker().current->lane; }

void fail(const char* fmt, ...) {
  Worker& w = worker();
  {
    va_list ap;
    va_start(ap, fmt);
    const std::string msg = vformat(fmt, ap);
    va_end(ap);
    w.abortMsg = std::string(w.kernel) + ": " + msg + " in " + where(*w.current);
  }
  abort_from_fiber(w, *w.current);
}

void collective(const char* op, unsigned mask, void* payload, CollectiveFn fn) {
  Worker& w = worker();
  Fiber& f = *w.current;
  if (!(mask >> f.lane & 1)) {
    w.abortMsg = std::string(w.kernel) + ": " + op + "(mask " + hex(mask) + ") in " + where(f) +
                 ": the calling lane " + std::to_string(f.lane) + " is not in the mask";
    abort_from_fiber(w, f);
  }
  const unsigned present = present_mask(w, f.warp);
  if (mask & ~present) {
    w.abortMsg = std::string(w.kernel) + ": " + op + "(mask " + hex(mask) + ") in " + where(f) +
                 ": lanes " + hex(mask & ~present) + " do not exist (" +
                 std::to_string(w.nthreads) + " threads per block, not a multiple of 32)";
    abort_from_fiber(w, f);
  }
  f.state = kWarp;
  f.op = op;
  f.mask = mask;
  f.payload = payload;
  f.fn = fn;
  to_scheduler(w, f);
  f.op = nullptr;
}

void syncthreads(const char* file, int line) {
  Worker& w = worker();
  Fiber& f = *w.current;
  f.state = kBarrier;
  f.file = file;
  f.line = line;
  to_scheduler(w, f);
}

uint64_t shfl(const char* op, unsigned mask, uint64_t value, int src) {
  ShflPayload p{value, 0, src};
  collective(op, mask, &p, shfl_resolve);
  return p.result;
}

void shfl_resolve(void* const* lanes, unsigned mask) {
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1)) continue;
    auto* p = static_cast<ShflPayload*>(lanes[l]);
    // A lane outside the mask holds an undefined value: all-ones bits (NaN, -1).
    p->result = (mask >> p->src & 1) ? static_cast<ShflPayload*>(lanes[p->src])->value
                                     : ~uint64_t(0);
  }
}

void ballot_resolve(void* const* lanes, unsigned mask) {
  unsigned bits = 0;
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1) && static_cast<VotePayload*>(lanes[l])->pred) bits |= 1u << l;
  for (int l = 0; l < 32; ++l)
    if (mask >> l & 1) static_cast<VotePayload*>(lanes[l])->result = bits;
}

void syncwarp_resolve(void* const*, unsigned) {}

void* shared_alloc(size_t bytes, size_t align) {
  Worker& w = worker();
  Fiber& f = *w.current;
  const size_t off = (f.sharedCursor + align - 1) / align * align;
  if (off + bytes > w.staticLimit)
    fail("static shared memory of %zu bytes exceeds the %zu-byte limit per block", off + bytes,
         w.staticLimit);
  f.sharedCursor = off + bytes;
  w.staticUsed = std::max(w.staticUsed, f.sharedCursor);
  w.sharedDirty = std::max(w.sharedDirty, w.dynBytes + f.sharedCursor);
  return w.shared.data() + w.dynBytes + off;
}

void* dynamic_shared() { return worker().shared.data(); }

void async_copy(void* dst, const void* src, int bytes) {
  Worker& w = worker();
  Fiber& f = *w.current;
  if (bytes != 4 && bytes != 8 && bytes != 16) fail("cp.async of %d bytes (4, 8 or 16)", bytes);
  const auto* d = static_cast<unsigned char*>(dst);
  if (d < w.shared.data() || d + bytes > w.shared.data() + w.shared.size())
    fail("cp.async destination %p is not in this block's shared memory", dst);
  if (reinterpret_cast<uintptr_t>(dst) % unsigned(bytes) ||
      reinterpret_cast<uintptr_t>(src) % unsigned(bytes))
    fail("cp.async of %d bytes from %p to %p: both addresses must be %d-byte aligned", bytes,
         src, dst, bytes);
  f.copies.push_back(AsyncCopy{dst, src, bytes, f.openGroup});
}

void async_commit() { ++worker().current->openGroup; }

void async_wait(int pending) {
  Fiber& f = *worker().current;
  // Groups committed before the newest `pending` ones complete; copies not yet committed
  // belong to no group (wait_all commits first). Until then the copy is not done at all.
  const int limit = f.openGroup - pending;
  std::vector<AsyncCopy> keep;
  for (const AsyncCopy& c : f.copies) {
    if (c.group < limit)
      std::memcpy(c.dst, c.src, size_t(c.bytes));
    else
      keep.push_back(c);
  }
  f.copies.swap(keep);
}

// ---------------------------------------------------------------- launch

namespace {
std::mutex g_attr_mu;
std::map<const void*, int> g_dyn_optin;  // kernel -> opted-in dynamic shared bytes
std::atomic<size_t> g_launches{0}, g_blocks{0}, g_threads{0}, g_switches{0};
std::atomic<size_t> g_d2h_copies{0}, g_stream_syncs{0}, g_h2d_pinned{0}, g_h2d_pageable{0};
std::atomic<size_t> g_device_mallocs{0}, g_event_syncs{0};
void run_deferred_copies();
constexpr size_t kStaticSmem = 48 << 10, kMaxSmemOptin = 227 << 10;

void check_redzones();
}  // namespace

void run_kernel(const char* name, const void* kernel, const LaunchCfg& c, void (*body)(void*),
                void* ctx) {
  run_deferred_copies();  // stream order: earlier copies land before the kernel reads
  const dim3 g = c.grid, b = c.block;
  const uint64_t threads = uint64_t(b.x) * b.y * b.z;
  auto bad = [&](const std::string& why) {
    set_error(cudaErrorInvalidConfiguration,
              std::string(name) + ": invalid launch <<<(" + std::to_string(g.x) + "," +
                  std::to_string(g.y) + "," + std::to_string(g.z) + "), (" + std::to_string(b.x) +
                  "," + std::to_string(b.y) + "," + std::to_string(b.z) + ")>>>: " + why);
  };
  if (threads == 0 || g.x == 0 || g.y == 0 || g.z == 0) return bad("a zero dimension");
  if (threads > 1024) return bad(std::to_string(threads) + " threads per block (at most 1024)");
  if (b.x > 1024 || b.y > 1024 || b.z > 64) return bad("block dimension over (1024, 1024, 64)");
  if (g.x > 2147483647u || g.y > 65535 || g.z > 65535)
    return bad("grid dimension over (2^31-1, 65535, 65535)");
  size_t dynLimit = kStaticSmem;
  {
    std::lock_guard<std::mutex> lock(g_attr_mu);
    auto it = g_dyn_optin.find(kernel);
    if (it != g_dyn_optin.end()) dynLimit = size_t(it->second);
  }
  if (c.smem > dynLimit)
    return bad(std::to_string(c.smem) + " bytes of dynamic shared memory (limit " +
               std::to_string(dynLimit) +
               "; more needs cudaFuncSetAttribute(MaxDynamicSharedMemorySize))");
  Worker& w = worker();
  if (w.kernel)
    return bad("launched from inside a kernel (dynamic parallelism is not simulated)");
  ensure_stacks(w, size_t(threads));
  if (w.shared.empty()) w.shared.assign(kMaxSmemOptin + kStaticSmem, 0xff);
  w.kernel = name;
  w.body = body;
  w.ctx = ctx;
  w.grid = g;
  w.block = b;
  w.nthreads = int(threads);
  w.dynBytes = (c.smem + 15) / 16 * 16;
  // Static shared memory: 48 KiB, and static + dynamic within the opt-in maximum.
  w.staticLimit = std::min(kStaticSmem, kMaxSmemOptin - std::min(kMaxSmemOptin, w.dynBytes));
  w.staticUsed = 0;
  w.aborted = false;
  w.abortMsg.clear();
  w.rng.seed(settings().seed);
  w.switches = 0;
  std::vector<int> order(threads);
  for (size_t i = 0; i < threads; ++i)
    order[i] = settings().order == Order::Reverse ? int(threads - 1 - i) : int(i);
  std::vector<uint3> blocks;
  blocks.reserve(size_t(g.x) * g.y * g.z);
  for (unsigned z = 0; z < g.z; ++z)
    for (unsigned y = 0; y < g.y; ++y)
      for (unsigned x = 0; x < g.x; ++x) blocks.push_back(uint3{x, y, z});
  if (settings().order == Order::Reverse) std::reverse(blocks.begin(), blocks.end());
  if (settings().order == Order::Random) std::shuffle(blocks.begin(), blocks.end(), w.rng);
  ThreadVars* savedVars = tls_vars;
  for (const uint3& bid : blocks) {
    run_block(w, bid, order);
    if (w.aborted) {
      reclaim_stacks(w);
      break;
    }
  }
  tls_vars = savedVars;
  if (!w.aborted) {
    for (int t = 0; t < w.nthreads; ++t)
      if (!w.fibers[size_t(t)].copies.empty()) {
        w.aborted = true;
        w.abortMsg = std::string(name) + ": cp.async copies never waited for (cp.async.wait_group)";
        break;
      }
  }
  g_launches += 1;
  g_blocks += blocks.size();
  g_threads += blocks.size() * threads;
  g_switches += w.switches;
  w.kernel = nullptr;
  if (w.aborted) set_error(cudaErrorLaunchFailure, "cudasim: " + w.abortMsg);
  check_redzones();
}

// ---------------------------------------------------------------- runtime API

namespace {

// Device memory: exact-size host blocks. Without ASan a 256-byte canary zone follows
// each block and is checked after every launch and at free (256: a 64-wide tile's row
// overrun, 63 floats, stays inside it instead of corrupting the host heap); with ASan
// the block is a plain malloc of exactly the requested size, so ASan sees any overrun.
constexpr size_t kRedzone = 256;
constexpr unsigned char kCanary = 0xA5, kPoison = 0xFF;

struct DeferredCopy {
  void* dst;
  const void* src;
  size_t bytes;
};

struct Memory {
  std::mutex mu;
  std::map<uintptr_t, size_t> live;  // base -> bytes
  std::map<uintptr_t, size_t> pinned;  // cudaHostAlloc blocks: base -> bytes
  std::vector<DeferredCopy> deferred;  // pinned-source copies the stream has not reached yet
  size_t used = 0;
  int freeFailIn = 0;  // the freeFailIn-th next cudaFree fails (0: none)
  cudaError_t deviceCountError = cudaSuccess;
};

Memory& memory() {
  static Memory* m = new Memory();
  return *m;
}

#ifdef CUDASIM_ASAN
constexpr bool kCanaries = false;
#else
constexpr bool kCanaries = true;
#endif

bool canary_ok(uintptr_t base, size_t bytes) {
  if (!kCanaries) return true;
  const unsigned char* z = reinterpret_cast<const unsigned char*>(base + bytes);
  for (size_t i = 0; i < kRedzone; ++i)
    if (z[i] != kCanary) return false;
  return true;
}

void check_redzones() {
  if (!kCanaries) return;
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  for (auto& kv : m.live)
    if (!canary_ok(kv.first, kv.second)) {
      set_error(cudaErrorIllegalAddress,
                "cudasim: a kernel wrote past the end of a " + std::to_string(kv.second) +
                    "-byte device allocation");
      std::memset(reinterpret_cast<void*>(kv.first + kv.second), kCanary, kRedzone);
    }
}

// The allocation holding [p, p + bytes), or false.
bool find_device(const void* p, size_t bytes) {
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = m.live.upper_bound(a);
  if (it == m.live.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second;
}

// Whether [p, p + bytes) lies inside one pinned host block.
bool find_pinned(const void* p, size_t bytes) {
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = m.pinned.upper_bound(a);
  if (it == m.pinned.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second;
}

// The stream reaches the deferred copies: they read their (pinned) sources now, in order.
void run_deferred_copies() {
  Memory& m = memory();
  std::vector<DeferredCopy> todo;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    todo.swap(m.deferred);
  }
  for (const DeferredCopy& c : todo) std::memcpy(c.dst, c.src, c.bytes);
}

struct CUstreamFake {
  int id;
};
CUstreamFake g_stream{1};

const char* error_name(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}

const char* error_text(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInsufficientDriver:
      return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unknown error";
}

thread_local std::string tls_text;

cudaError_t fail_call(cudaError_t e, const std::string& detail) {
  set_error(e, detail);
  return e;
}

}  // namespace

Stats stats() {
  return Stats{g_launches,   g_blocks,        g_threads,       g_switches,      g_d2h_copies,
               g_stream_syncs, g_h2d_pinned, g_h2d_pageable, g_device_mallocs, g_event_syncs};
}

void inject_device_count_error(cudaError_t e) { memory().deviceCountError = e; }
void inject_free_failure(int nth) { memory().freeFailIn = nth; }

}  // namespace cudasim

using namespace cudasim;

cudaError_t cudaGetDeviceCount(int* n) {
  cudaError_t e = memory().deviceCountError;
  if (e == cudaSuccess)
    if (const char* v = std::getenv("CUDASIM_DEVICE_ERROR"))
      for (int c : {35, 100, 3})
        if (std::strcmp(v, error_name(cudaError_t(c))) == 0) e = cudaError_t(c);
  if (e != cudaSuccess) {
    *n = 0;
    return fail_call(e, "cudasim: cudaGetDeviceCount fails as requested");
  }
  *n = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return fail_call(cudaErrorInvalidDevice, "cudasim: one device only");
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "cudasim (CPU simulator, schedule %s)",
                settings().scheduleText.c_str());
  prop->totalGlobalMem = settings().memLimit;
  prop->sharedMemPerBlock = 48 << 10;
  prop->sharedMemPerBlockOptin = 227 << 10;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : fail_call(cudaErrorInvalidDevice, "cudasim: one device only");
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  Memory& m = memory();
  *p = nullptr;
  g_device_mallocs += 1;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (bytes > settings().memLimit - m.used)
      return fail_call(cudaErrorMemoryAllocation,
                       "cudasim: cudaMalloc(" + std::to_string(bytes) + ") exceeds the simulated " +
                           std::to_string(settings().memLimit) + "-byte device");
  }
  unsigned char* q = static_cast<unsigned char*>(std::malloc(bytes + (kCanaries ? kRedzone : 0) + 1));
  if (!q) return fail_call(cudaErrorMemoryAllocation, "cudasim: host malloc failed");
  std::memset(q, kPoison, bytes);  // device memory starts undefined: NaN / -1 everywhere
  if (kCanaries) std::memset(q + bytes, kCanary, kRedzone);
  std::lock_guard<std::mutex> lock(m.mu);
  m.live[reinterpret_cast<uintptr_t>(q)] = bytes;
  m.used += bytes;
  *p = q;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  run_deferred_copies();  // stream order: a copy into the block lands before it is freed
  Memory& m = memory();
  size_t bytes;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.freeFailIn > 0 && --m.freeFailIn == 0) {
      return fail_call(cudaErrorInvalidValue, "cudasim: injected cudaFree failure");
    }
    auto it = m.live.find(reinterpret_cast<uintptr_t>(p));
    if (it == m.live.end()) {
      return fail_call(cudaErrorInvalidDevicePointer,
                       "cudasim: cudaFree of a pointer that is not a live allocation");
    }
    bytes = it->second;
    if (!canary_ok(it->first, bytes)) {
      set_error(cudaErrorIllegalAddress, "cudasim: a kernel wrote past the end of a " +
                                             std::to_string(bytes) +
                                             "-byte device allocation (found at cudaFree)");
    }
    m.live.erase(it);
    m.used -= bytes;
  }
  std::memset(p, kPoison, bytes);  // use after free reads poison
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* freeBytes, size_t* totalBytes) {
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  *totalBytes = settings().memLimit;
  *freeBytes = settings().memLimit - m.used;
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t) {
  if (bytes == 0) return cudaSuccess;
  const bool dDev = find_device(dst, bytes), sDev = find_device(src, bytes);
  const bool wantD = kind == cudaMemcpyDeviceToDevice || kind == cudaMemcpyHostToDevice;
  const bool wantS = kind == cudaMemcpyDeviceToDevice || kind == cudaMemcpyDeviceToHost;
  if (kind != cudaMemcpyDefault && kind != cudaMemcpyHostToHost && (wantD != dDev || wantS != sDev))
    return fail_call(cudaErrorInvalidValue,
                     "cudasim: cudaMemcpy of " + std::to_string(bytes) + " bytes: " +
                         (wantD != dDev ? "destination" : "source") + " is " +
                         ((wantD != dDev ? dDev : sDev) ? "" : "not ") +
                         "inside a live device allocation, against the copy kind");
  const uintptr_t d = reinterpret_cast<uintptr_t>(dst), s = reinterpret_cast<uintptr_t>(src);
  if (d < s + bytes && s < d + bytes)  // undefined for cudaMemcpy: the GPU copies in parallel
    return fail_call(cudaErrorInvalidValue,
                     "cudasim: cudaMemcpy of " + std::to_string(bytes) +
                         " bytes between overlapping ranges");
  if (sDev && !dDev) g_d2h_copies += 1;  // what a GPU would drain the stream for
  if (dDev && !sDev) {
    if (find_pinned(src, bytes)) {  // asynchronous: the source is read when the stream gets here
      g_h2d_pinned += 1;
      Memory& m = memory();
      std::lock_guard<std::mutex> lock(m.mu);
      m.deferred.push_back(DeferredCopy{dst, src, bytes});
      return cudaSuccess;
    }
    g_h2d_pageable += 1;  // the driver stages a pageable source before the call returns
  }
  run_deferred_copies();
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned) {
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  void* q = std::malloc(bytes);
  if (!q) return fail_call(cudaErrorMemoryAllocation, "cudasim: cudaHostAlloc: host malloc failed");
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  m.pinned[reinterpret_cast<uintptr_t>(q)] = bytes;
  *p = q;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  run_deferred_copies();  // a GPU would still be reading it: the runtime must have synced first
  Memory& m = memory();
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.pinned.erase(reinterpret_cast<uintptr_t>(p)) == 0)
      return fail_call(cudaErrorInvalidValue, "cudasim: cudaFreeHost of a pointer that is not a pinned block");
  }
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  if (bytes == 0) return cudaSuccess;
  run_deferred_copies();
  if (!find_device(dst, bytes))
    return fail_call(cudaErrorInvalidValue, "cudasim: cudaMemset outside a live device allocation");
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = reinterpret_cast<cudaStream_t>(&g_stream);
  return cudaSuccess;
}

// Launches run synchronously and report through cudaGetLastError (not sticky).
cudaError_t cudaStreamSynchronize(cudaStream_t) {
  g_stream_syncs += 1;
  run_deferred_copies();
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() { return cudaStreamSynchronize(nullptr); }

cudaError_t cudaGetLastError() {
  std::lock_guard<std::mutex> lock(g_err_mu);
  const cudaError_t e = g_last;
  g_last = cudaSuccess;
  if (e != cudaSuccess) tls_text = std::string(error_text(e)) + " [" + g_last_detail + "]";
  return e;
}

cudaError_t cudaPeekAtLastError() {
  std::lock_guard<std::mutex> lock(g_err_mu);
  return g_last;
}

// The generic text of the code plus, for the error last taken by cudaGetLastError,
// the simulator's detail (which kernel, which thread, what went wrong).
const char* cudaGetErrorString(cudaError_t e) {
  {
    std::lock_guard<std::mutex> lock(g_err_mu);
    if (e == g_last && e != cudaSuccess) {
      tls_text = std::string(error_text(e)) + " [" + g_last_detail + "]";
      return tls_text.c_str();
    }
  }
  if (!tls_text.empty() && tls_text.compare(0, std::strlen(error_text(e)), error_text(e)) == 0)
    return tls_text.c_str();
  return error_text(e);
}

const char* cudaGetErrorName(cudaError_t e) { return error_name(e); }

cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      size_t(value) > (227 << 10))
    return fail_call(cudaErrorInvalidValue, "cudasim: cudaFuncSetAttribute value out of range");
  std::lock_guard<std::mutex> lock(g_attr_mu);
  g_dyn_optin[kernel] = value;
  return cudaSuccess;
}

// An event is the host time at which the (synchronous) stream reached it; -1 = never recorded.
struct CUevent_st {
  double ms = -1.0;
};

cudaError_t cudaEventCreate(cudaEvent_t* e) {
  if (!e) return fail_call(cudaErrorInvalidValue, "cudasim: cudaEventCreate(nullptr)");
  *e = new CUevent_st();
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) { return cudaEventCreate(e); }

cudaError_t cudaEventDestroy(cudaEvent_t e) {
  if (!e) return fail_call(cudaErrorInvalidValue, "cudasim: cudaEventDestroy(nullptr)");
  delete e;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  if (!e) return fail_call(cudaErrorInvalidValue, "cudasim: cudaEventRecord(nullptr)");
  using clock = std::chrono::steady_clock;
  e->ms = std::chrono::duration<double, std::milli>(clock::now().time_since_epoch()).count();
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (!e || e->ms < 0) return fail_call(cudaErrorInvalidValue, "cudasim: cudaEventSynchronize of an event never recorded");
  g_event_syncs += 1;
  run_deferred_copies();
  return cudaSuccess;
}

// Not ready while deferred copies wait (the stream has not got to them, nor to an event
// recorded after them); a query does no work, so polling alone never completes a copy.
cudaError_t cudaEventQuery(cudaEvent_t e) {
  if (!e || e->ms < 0) return fail_call(cudaErrorInvalidValue, "cudasim: cudaEventQuery of an event never recorded");
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  return m.deferred.empty() ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms || !start || !end || start->ms < 0 || end->ms < 0)
    return fail_call(cudaErrorInvalidValue, "cudasim: cudaEventElapsedTime needs two recorded events");
  *ms = float(end->ms - start->ms);
  return cudaSuccess;
}
