// The table-driven binder: a kernel entry is one row (name, parameter names, the checks
// between its shapes, the launch) and everything else is written once here: argument
// parsing from the row's lambda parameter types, the errors naming op and shapes, the
// empty-output early return, launch counting, dispatch by device and CUDA error checks.
#pragma once
#include <napi.h>

#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "args.h"
#include "kernels.h"

namespace addon {

// A buffer argument: F32/I32 must be given, OptF32/OptI32 may be null.
template <typename T, bool Optional>
struct Buf {
  Buffer* b = nullptr;
  const char* name = "";
  T* at(int64_t off = 0) const { return b ? static_cast<T*>(b->ptr) + off : nullptr; }
  explicit operator bool() const { return b != nullptr; }
};
using F32 = Buf<float, false>;
using OptF32 = Buf<float, true>;
using I32 = Buf<int32_t, false>;
using OptI32 = Buf<int32_t, true>;

// One parameter of a row: its name and, for integers, the smallest value allowed.
struct Param {
  std::string name;
  int64_t min = 0;
};

// Reads argument i as T; kind is what the exported signature calls it.
template <typename T>
struct Read;
template <typename T, bool Opt>
struct Read<Buf<T, Opt>> {
  static constexpr const char* kind = std::is_same_v<T, float> ? (Opt ? "f32?" : "f32")
                                                              : (Opt ? "i32?" : "i32");
  static Buf<T, Opt> get(Args& a, size_t i, const Param& p) {
    const int dtype = std::is_same_v<T, float> ? kF32 : kI32;
    Buf<T, Opt> r;
    r.name = p.name.c_str();
    r.b = Opt ? a.optional_buffer(i, r.name, dtype) : a.buffer(i, r.name, dtype);
    return r;
  }
};
template <>
struct Read<int64_t> {
  static constexpr const char* kind = "int";
  static int64_t get(Args& a, size_t i, const Param& p) {
    const int64_t v = a.integer(i, p.name.c_str(), p.min);
    a.shape(p.name.c_str(), v);
    return v;
  }
};
template <>
struct Read<float> {
  static constexpr const char* kind = "float";
  static float get(Args& a, size_t i, const Param& p) { return a.number(i, p.name.c_str()); }
};
template <>
struct Read<bool> {
  static constexpr const char* kind = "bool";
  static bool get(Args& a, size_t i, const Param& p) { return a.flag(i, p.name.c_str()); }
};

// The cpu and cuda twins of one kernel. Calling it launches on the call's device, unless
// the output is empty (work == 0); it counts the launch and checks CUDA errors.
template <typename F>
struct Kernel {
  F cpu;
  F gpu;  // null when the addon is built without CUDA
  template <typename... A>
  void operator()(Args& a, int64_t work, A&&... args) const {
    if (work == 0) return;
    count_launch(a.op());
#ifdef CLLM4REC_CUDA
    if (a.device() == kCuda) {
      gpu(std::forward<A>(args)...);
      ::cuda::check_last(a.op());
      return;
    }
#endif
    cpu(std::forward<A>(args)...);
  }
};

// Registers one entry point; std::exceptions from kernels become JS Errors naming it.
void export_function(Napi::Env env, Napi::Object exports, const std::string& name,
                     std::function<Napi::Value(const Napi::CallbackInfo&)> fn);
// "layer_norm_forward" -> "layerNormForward": the JS name of a C++ kernel name.
std::string camel_case(const char* snake);
// "a b>=1 c" -> {a, 0}, {b, 1}, {c, 0}.
std::vector<Param> parse_params(const char* params);
// Records name -> [[param, kind], ...] in the addon's `signatures` export.
void add_signature(Napi::Env env, Napi::Object exports, const std::string& name,
                   const std::vector<Param>& params, const std::vector<const char*>& kinds);

template <typename K, typename Body, typename... P, size_t... I>
void bind_row(Napi::Env env, Napi::Object exports, const char* snake, const char* names, K k,
              Body body, std::index_sequence<I...>) {
  const std::string op = camel_case(snake);
  const std::vector<Param> params = parse_params(names);
  if (params.size() != sizeof...(P))
    throw std::logic_error(op + ": the row names " + std::to_string(params.size()) +
                           " parameters but its lambda takes " + std::to_string(sizeof...(P)));
  add_signature(env, exports, op, params, {Read<P>::kind...});
  export_function(env, exports, op, [op, params, k, body](const Napi::CallbackInfo& info) {
    Args a(info, op.c_str(), sizeof...(P));
    // Braced initialisation reads the arguments left to right, so errors come in order.
    std::tuple<P...> v{Read<P>::get(a, I, params[I])...};
    body(a, k, std::get<I>(v)...);
    return info.Env().Undefined();
  });
}

template <typename K, typename Body, typename... P>
void bind(Napi::Env env, Napi::Object exports, const char* snake, const char* names, K k,
          Body body, void (Body::*)(Args&, const K&, P...) const) {
  bind_row<K, Body, P...>(env, exports, snake, names, k, body, std::index_sequence_for<P...>{});
}

#ifdef CLLM4REC_CUDA
#define CLLM4REC_GPU(name) &::cuda::name
#else
#define CLLM4REC_GPU(name) nullptr
#endif

// One table row: ROW(kernel_name, "param names", [](Args& a, const Run& run, <typed
// params>) { shape relations; run(a, work, kernel args...); }). The name appears once.
#define ROW(name, params, ...)                                                        \
  [&] {                                                                               \
    using Run = ::addon::Kernel<decltype(&::cpu::name)>;                              \
    auto body = __VA_ARGS__;                                                          \
    ::addon::bind(env, exports, #name, params, Run{&::cpu::name, CLLM4REC_GPU(name)}, \
                  body, &decltype(body)::operator());                                 \
  }()

// Entry-point tables, one per file.
void register_memory(Napi::Env env, Napi::Object exports);
void register_kernels(Napi::Env env, Napi::Object exports);

}  // namespace addon
