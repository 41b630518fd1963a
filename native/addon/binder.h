// The table-driven binder. Each kernel is one row of native/addon/kernels.cc,
//   ROW(kernel, "spec", "work"[, check])
// whose spec lists the kernel's parameters in kernels.h order, each written
//   [alias=]arg[?][@offset][>=min][[extent]][!other...]      (or +flag: a JS-only boolean)
// arg is the JS argument (read once even when two parameters share it, like k=kv and v=kv),
// ? allows null, @offset names the JS argument holding its element offset, >=min bounds an
// integer by a literal or a product of integer arguments (H*Dh), [extent] gives the
// elements the kernel may touch from the offset: a product (R*C), or strided blocks
// (batch:strideA,M*K = batch blocks strideA apart, M*K elements each), and !other forbids
// overlap with another parameter. Types come from the kernel's own declaration. work is a
// product too: the launch is skipped when it is 0. A check adds what a spec cannot say
// (value ranges, conditional limits) and returns the work.
// Reading, errors naming op and shapes, launch counting, dispatch by device and CUDA error
// checks are written once, here and in binder.cc.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "args.h"
#include "kernels.h"

namespace addon {

using Product = std::vector<std::pair<int, int64_t>>;  // (argument index or -1, literal)
// Elements touched by count_0 blocks at stride_0 of count_1 blocks ... of width elements.
struct Extent {
  std::vector<std::pair<Product, int>> blocks;  // (count, stride argument)
  Product width;
};

struct Spec {
  struct Arg {
    std::string name;
    char kind;  // f / i: f32 / i32 buffer, n: integer, x: float, b: boolean
    bool optional;
    Product min;        // a literal is checked while reading, a product of arguments after
    std::string bound;  // min as written, for messages
  };
  struct Param {
    std::string name;  // the alias when given: messages and lookups use it
    int arg, off;      // indices of its argument and of its offset (-1: none)
    bool sized;
    Extent extent;
    std::vector<std::string> apart;
  };
  std::string op;
  std::vector<Arg> args;  // the JS call, in order
  std::vector<Param> params;  // the kernel's
  Product work;
};

// One call: arguments read and checked, and the extent settled for each parameter.
struct Call {
  Args& a;
  const Spec& s;
  std::vector<Buffer*> buf;  // per argument
  std::vector<double> val;   // per argument; integers are below 2^53, so exact
  std::vector<int64_t> ext;  // per parameter, -1 while unknown

  size_t find(const char* name, bool param) const;
  int64_t i(const char* name) const { return int64_t(val[find(name, false)]); }
  float f(const char* name) const { return float(val[find(name, false)]); }
  Buffer* buffer(const char* name) const { return buf[s.params[find(name, true)].arg]; }
  int64_t offset(size_t p) const { return s.params[p].off < 0 ? 0 : int64_t(val[s.params[p].off]); }
  int64_t product(const Product& p) const;
  int64_t span(const Extent& e) const;
  void extent(const char* name, int64_t count);  // checks and records it
  template <typename T>
  T value(size_t p) const {
    if constexpr (std::is_pointer_v<T>) {
      const Buffer* b = buf[s.params[p].arg];
      return b ? static_cast<T>(b->ptr) + offset(p) : nullptr;
    } else {
      return T(val[s.params[p].arg]);
    }
  }
};

template <typename T>
constexpr char kind_of() {
  if constexpr (std::is_pointer_v<T>)
    return std::is_same_v<std::remove_cv_t<std::remove_pointer_t<T>>, float> ? 'f' : 'i';
  else
    return std::is_same_v<T, float> ? 'x' : std::is_same_v<T, bool> ? 'b' : 'n';
}

using Check = int64_t (*)(Call&);
void export_function(Napi::Env env, Napi::Object exports, const std::string& name,
                     std::function<Napi::Value(const Napi::CallbackInfo&)> fn);
Spec make_spec(const char* kernel, const char* spec, const char* work, std::vector<char> kinds);
void add_signature(Napi::Env env, Napi::Object exports, const Spec& s);
int64_t prepare(Call& c, Check check);  // reads and checks; returns the work (0: no launch)
void after_gpu_launch(const char* op);  // CUDA error check (sync with CLLM4REC_SYNC=1)

template <typename... P, size_t... I>
void launch(void (*fn)(P...), const Call& c, std::index_sequence<I...>) {
  fn(c.value<P>(I)...);
}

template <typename T>
struct Same {
  using type = T;
};

template <typename... P>
void bind(Napi::Env env, Napi::Object exports, const char* kernel, void (*cpu)(P...),
          typename Same<void (*)(P...)>::type gpu, const char* spec, const char* work,
          Check check = nullptr) {
  auto s = std::make_shared<const Spec>(make_spec(kernel, spec, work, {kind_of<P>()...}));
  add_signature(env, exports, *s);
  export_function(env, exports, s->op, [s, cpu, gpu, check](const Napi::CallbackInfo& info) {
    Args a(info, s->op.c_str(), s->args.size());
    Call c{a, *s, {}, {}, {}};
    if (prepare(c, check) != 0) {
      count_launch(s->op.c_str());
      const bool onGpu = gpu && a.device() == kCuda;  // no gpu twin: a CPU-only build
      launch(onGpu ? gpu : cpu, c, std::index_sequence_for<P...>{});
      if (onGpu) after_gpu_launch(s->op.c_str());
    }
    return info.Env().Undefined();
  });
}

#ifdef CLLM4REC_CUDA
#define CLLM4REC_GPU(name) &::cuda::name
#else
#define CLLM4REC_GPU(name) nullptr
#endif
// One table row: the kernel's name, once, gives the JS name, both twins and the counter.
#define ROW(name, ...) \
  ::addon::bind(env, exports, #name, &::cpu::name, CLLM4REC_GPU(name), __VA_ARGS__)

void register_memory(Napi::Env env, Napi::Object exports);
void register_kernel_versions(Napi::Env env, Napi::Object exports);  // kernel_versions.cc
void register_kernels(Napi::Env env, Napi::Object exports);

}  // namespace addon
