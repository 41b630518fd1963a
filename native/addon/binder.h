// The table-driven binder. A kernel entry is one row of native/addon/kernels.cc:
//   ROW(kernel, "spec", "work"[, check])
// The spec lists the kernel's parameters in kernels.h order, each as
//   [alias=]js[?][@offset][>=min][[extent]][!other...]    or +flag for a JS-only boolean:
// js is the JS argument (read once, even when two items share it), ? allows null, @offset
// names the JS argument with its element offset, [extent] is a product of integer
// arguments and literals (the elements the kernel may touch from there), !other forbids
// overlap with another item. Types come from the kernel's own declaration. work is a
// product too: the launch is skipped when it is 0. A check function adds what a spec
// cannot say (extents of strided blocks, value ranges) and returns the work itself.
// Parsing, errors naming op and shapes, launch counting, dispatch by device and CUDA
// error checks are written once, here.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "kernels.h"

namespace addon {

// A product of integer arguments (index >= 0) and literals (index -1).
using Product = std::vector<std::pair<int, int64_t>>;

struct Item {
  std::string name;       // in messages and lookups (the alias when one is given)
  int js = -1, off = -1;  // argument indices of the value (or buffer) and of its offset
  bool optional = false;
  bool hasExtent = false;
  Product extent;
  std::vector<std::string> apart;
};

struct Spec {
  std::string op;
  std::vector<std::string> args;  // JS argument names, in call order
  std::vector<char> kinds;        // per argument: f/i (f32/i32 buffer), n int, x float, b bool
  std::vector<bool> optional;
  std::vector<int64_t> min;
  std::vector<Item> items;  // the kernel's parameters
  Product work;
};

// One call: its arguments read and checked, plus the extent settled for each item.
struct Call {
  Args& a;
  const Spec& s;
  std::vector<Buffer*> buf;
  std::vector<int64_t> num;
  std::vector<double> real;
  std::vector<int64_t> ext;  // per item; -1 while unknown

  int arg(const char* name) const;
  size_t item(const char* name) const;
  int64_t i(const char* name) const { return num[arg(name)]; }
  float f(const char* name) const { return float(real[arg(name)]); }
  Buffer* buffer(const char* name) const { return buf[s.items[item(name)].js]; }
  int64_t offset(size_t it) const { return s.items[it].off < 0 ? 0 : num[s.items[it].off]; }
  int64_t product(const Product& p) const;
  // Checks and records that item name may touch count elements from its offset.
  void extent(const char* name, int64_t count);
  template <typename T>
  T value(size_t it) const;
};

template <typename T>
T Call::value(size_t it) const {
  const int j = s.items[it].js;
  if constexpr (std::is_pointer_v<T>) {
    using E = std::remove_const_t<std::remove_pointer_t<T>>;
    return buf[j] ? static_cast<E*>(buf[j]->ptr) + offset(it) : nullptr;
  } else if constexpr (std::is_same_v<T, float>) {
    return float(real[j]);
  } else if constexpr (std::is_same_v<T, bool>) {
    return num[j] != 0;
  } else {
    return num[j];
  }
}

template <typename T>
constexpr char kind_of() {
  if constexpr (std::is_pointer_v<T>)
    return std::is_same_v<std::remove_const_t<std::remove_pointer_t<T>>, float> ? 'f' : 'i';
  else
    return std::is_same_v<T, float> ? 'x' : std::is_same_v<T, bool> ? 'b' : 'n';
}

using Check = int64_t (*)(Call&);

// Registers one entry point; std::exceptions from kernels become JS Errors naming it.
void export_function(Napi::Env env, Napi::Object exports, const std::string& name,
                     std::function<Napi::Value(const Napi::CallbackInfo&)> fn);
// Builds the spec from its text and the kernel's parameter kinds; throws on a bad row.
Spec make_spec(const char* snake, const char* spec, const char* work,
               const std::vector<char>& kinds);
// Reads the arguments, checks extents (and runs check), returns the work (0 = skip).
int64_t prepare(Call& c, Check check);
void add_signature(Napi::Env env, Napi::Object exports, const Spec& s);

template <typename T>
struct Same {
  using type = T;
};

template <typename... P, size_t... I>
void launch(void (*fn)(P...), const Call& c, std::index_sequence<I...>) {
  fn(c.value<P>(I)...);
}

template <typename... P>
void bind(Napi::Env env, Napi::Object exports, const char* snake, void (*cpu)(P...),
          typename Same<void (*)(P...)>::type gpu, const char* spec, const char* work,
          Check check = nullptr) {
  auto s = std::make_shared<const Spec>(make_spec(snake, spec, work, {kind_of<P>()...}));
  add_signature(env, exports, *s);
  export_function(env, exports, s->op, [s, cpu, gpu, check](const Napi::CallbackInfo& info) {
    Args a(info, s->op.c_str(), s->args.size());
    Call c{a, *s, {}, {}, {}, {}};
    if (prepare(c, check) != 0) {
      count_launch(s->op.c_str());
#ifdef CLLM4REC_CUDA
      if (a.device() == kCuda) {
        launch(gpu, c, std::index_sequence_for<P...>{});
        ::cuda::check_last(s->op.c_str());
      } else {
        launch(cpu, c, std::index_sequence_for<P...>{});
      }
#else
      (void)gpu;
      launch(cpu, c, std::index_sequence_for<P...>{});
#endif
    }
    return info.Env().Undefined();
  });
}

#ifdef CLLM4REC_CUDA
#define CLLM4REC_GPU(name) &::cuda::name
#else
#define CLLM4REC_GPU(name) nullptr
#endif
// One table row; the kernel's name appears once and gives the JS name, both twins and
// the launch counter.
#define ROW(name, ...) ::addon::bind(env, exports, #name, &::cpu::name, CLLM4REC_GPU(name), __VA_ARGS__)

void register_memory(Napi::Env env, Napi::Object exports);
void register_kernels(Napi::Env env, Napi::Object exports);

}  // namespace addon
