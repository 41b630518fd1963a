// The table-driven binder: kernels.cc holds one ROW(kernel, "spec", "work"[, check]) per kernel (CPU_ROW: CPU-only;
// QUERY: a host function whose value is returned), each parameter of the spec written (README, "The kernel table")
//   [alias=]arg[?][@offset][>=min][[extent]][!other...]      (or +flag: a JS-only boolean)
// Every failure throws a JS TypeError (wrong type), RangeError (bad id) or Error (shapes, extents, devices) naming
// the op first and the shapes read so far last.
#pragma once
#include <napi.h>
#include <cmath>
#include <numeric>
#include <regex>

#include "buffer.h"
#include "kernels.h"

namespace addon {
struct Args {
  const Napi::CallbackInfo& info;
  std::string op, shapes;  // shapes: "name=value, ..." of the integers read so far, for messages
  int dev = -1;  // device of the buffers read so far, -1 before the first
  Args(const Napi::CallbackInfo& in, std::string name, size_t n) : info(in), op(std::move(name)) {
    if (info.Length() != n)
      type_error("expected " + std::to_string(n) + " arguments, got " + std::to_string(info.Length()));
  }
  template <typename E = Napi::Error> [[noreturn]] void fail(const std::string& why) const {
    throw E::New(info.Env(), op + ": " + why + (shapes.empty() ? "" : " (" + shapes + ")"));
  }
  [[noreturn]] void type_error(const std::string& why) const { fail<Napi::TypeError>(why); }
  [[noreturn]] void range_error(const std::string& why) const { fail<Napi::RangeError>(why); }
  void shape(const std::string& n, int64_t v) { shapes += (shapes.empty() ? "" : ", ") + n + "=" + std::to_string(v); }
  double number(size_t i, const std::string& name) const {
    if (!info[i].IsNumber()) type_error(name + " must be a number");
    return info[i].As<Napi::Number>().DoubleValue();
  }
  int64_t integer(size_t i, const std::string& name, int64_t min = 0) const {
    const double d = number(i, name);
    if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > 9007199254740991.0)  // 2^53 - 1
      type_error(name + " must be an integer, got " + std::to_string(d));
    if (int64_t(d) < min) fail(name + " must be >= " + std::to_string(min) + ", got " + std::to_string(int64_t(d)));
    return int64_t(d);
  }
  // A live buffer of the dtype on the call's one device (optional: null/undefined gives nullptr).
  Buffer* buffer(size_t i, const std::string& name, int dtype, bool optional = false) {
    if (optional && (info[i].IsNull() || info[i].IsUndefined())) return nullptr;
    Buffer* b = unwrap(info[i]);
    if (!b) type_error(name + " must be a native buffer");
    if (b->freed) fail(name + " was already freed");
    if (b->dtype != dtype) type_error(name + " must be " + dtype_name(dtype) + ", got " + dtype_name(b->dtype));
    if (dev >= 0 && b->device != dev)
      fail("all buffers must be on one device, but " + name + " is on " + device_name(b->device) +
           " and an earlier one on " + device_name(dev));
    dev = b->device;
    return b;
  }
  void extent(const Buffer* b, const std::string& name, int64_t off, int64_t count) const {  // count may be 0
    if (count != 0 && (off > b->numel || count > b->numel - off))
      fail(name + " needs elements [" + std::to_string(off) + ", " + std::to_string(off + count) + ") but has only " +
           std::to_string(b->numel));
  }
  int64_t mul(int64_t x, int64_t y) const { if (__builtin_mul_overflow(x, y, &x)) fail("size overflow"); return x; }
  int64_t add(int64_t x, int64_t y) const { if (__builtin_add_overflow(x, y, &x)) fail("size overflow"); return x; }
};
inline void export_function(Napi::Env env, Napi::Object exports, const std::string& name,
                            std::function<Napi::Value(const Napi::CallbackInfo&)> fn) {
  exports.Set(name, Napi::Function::New(env, [fn, name](const Napi::CallbackInfo& info) -> Napi::Value {
    try {
      return fn(info);
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::out_of_range& e) {  // a bad value a CUDA kernel found (runtime.cu)
      throw Napi::RangeError::New(info.Env(), name + ": " + e.what());
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), name + ": " + e.what());
    } catch (...) {
      throw Napi::Error::New(info.Env(), name + ": unknown native error");
    }
  }, name));
}
void register_memory(Napi::Env env, Napi::Object exports);  // memory.cc
struct Product { int64_t k = 1; std::vector<int> of; };  // k times the integer arguments of (indices)
struct Spec {
  // Arg kind: f32 i32 int float bool; bound: the min as written. Param name: the alias when given; arg, off: indices
  // of its argument and offset argument (-1: none); span: the extent as written, extent: its blocks, then (width, -1)
  struct Arg { std::string name, kind; bool optional; std::string bound; Product min; };
  struct Param { std::string name; int arg, off; std::vector<std::string> apart; std::string span;
                 std::vector<std::pair<Product, int>> extent; };
  std::string op;             // the JS name
  std::vector<Arg> args;      // the JS call's, in order
  std::vector<Param> params;  // the kernel's, in order
  Product work;               // a zero factor skips the launch
};

inline std::vector<std::string> split(const std::string& text, const std::string& sep) {  // the non-empty parts
  const std::regex part("[^" + sep + "]+");
  return {std::sregex_token_iterator(text.begin(), text.end(), part), std::sregex_token_iterator()};
}

inline Spec make_spec(const char* name, const char* text, const char* work, const std::vector<std::string>& kinds) {
  Spec s;
  for (const char* p = name; *p; ++p)  // layer_norm_forward -> layerNormForward
    if (*p != '_') s.op += p > name && p[-1] == '_' ? char(std::toupper(*p)) : *p;
  auto bad = [&](const std::string& why) { throw std::logic_error(s.op + " row: " + why); };
  auto index = [&](const std::string& n) {  // s.args.size() when there is none
    return int(std::find_if(s.args.begin(), s.args.end(), [&](auto& g) { return g.name == n; }) - s.args.begin());
  };
  auto arg = [&](const std::string& n, const std::string& kind, bool optional) {
    if (index(n) == int(s.args.size())) s.args.push_back({n, kind, optional, "", {}});
    return index(n);
  };
  auto product = [&](const std::string& expr) {
    Product out;
    for (const std::string& f : split(expr, "*"))
      if (f[0] == '-' || std::isdigit(static_cast<unsigned char>(f[0]))) out.k *= std::stoll(f);
      else if (index(f) < int(s.args.size()) && s.args[index(f)].kind == "int") out.of.push_back(index(f));
      else bad(f + " is no integer argument");
    return out;
  };
  static const std::regex param(R"((?:(\w+)=)?(\w+)(\?)?(?:@(\w+))?(?:>=(-?[\w*]+))?(?:\[([\w*:,]+)\])?((?:!\w+)*))");
  for (const std::string& w : split(text, " ")) {
    std::smatch m;
    if (w[0] == '+') arg(w.substr(1), "bool", false);  // a JS-only flag: no kernel parameter
    if (w[0] == '+') continue;
    if (!std::regex_match(w, m, param) || s.params.size() == kinds.size())
      bad("cannot place '" + w + "' (" + std::to_string(kinds.size()) + " kernel parameters)");
    const int at = arg(m[2], kinds[s.params.size()], m[3].matched), off = m[4].matched ? arg(m[4], "int", false) : -1;
    s.params.push_back({m[1].matched ? m[1].str() : m[2].str(), at, off, split(m[7], "!"), m[6], {}});
    if (m[5].matched) s.args[at].bound = m[5];
  }
  if (s.params.size() != kinds.size()) bad("fewer parameters than the kernel has");
  for (Spec::Arg& g : s.args) g.min = product(g.bound);  // once every argument is known, like the extents
  for (Spec::Param& q : s.params)
    for (const std::string& part : split(q.span, ",")) {  // count:stride,...,width
      const size_t colon = part.find(':');
      const int stride = colon == std::string::npos ? -1 : product(part.substr(colon + 1)).of.at(0);
      q.extent.push_back({product(part.substr(0, colon)), stride});
    }
  s.work = product(work);
  return s;
}

// One call: its arguments read and checked against the row, and the extent settled for each parameter.
struct Call {
  Args& a;
  const Spec& s;
  std::vector<Buffer*> buf;  // per argument
  std::vector<double> val;   // per argument; integers are below 2^53, so exact
  std::vector<int64_t> ext;  // per parameter, -1 while unknown
  bool launch = true;        // false: nothing to do (a zero factor of the work, or a check said so)

  Call(Args& args, const Spec& spec, bool hasGpu, void (*check)(Call&))
      : a(args), s(spec), buf(s.args.size()), val(s.args.size()), ext(s.params.size(), -1) {
    for (size_t j = 0; j < s.args.size(); ++j) {  // in order: the first bad argument is the one named
      const Spec::Arg& g = s.args[j];
      if (g.kind == "f32" || g.kind == "i32") buf[j] = a.buffer(j, g.name, g.kind == "f32" ? kF32 : kI32, g.optional);
      if (g.kind == "float") val[j] = float(a.number(j, g.name));
      if (g.kind == "bool" && !a.info[j].IsBoolean()) a.type_error(g.name + " must be a boolean");
      if (g.kind == "bool") val[j] = a.info[j].As<Napi::Boolean>().Value();
      if (g.kind == "int") val[j] = double(a.integer(j, g.name, g.bound.empty() || !g.min.of.empty() ? 0 : g.min.k));
      if (g.kind == "int") a.shape(g.name, int64_t(val[j]));
    }
    for (size_t j = 0; j < s.args.size(); ++j)  // bounds by other arguments, after reading all
      if (const Spec::Arg& g = s.args[j]; !g.min.of.empty() && val[j] < double(product(g.min)))
        a.fail(g.name + " must be >= " + g.bound + " (" + std::to_string(product(g.min)) + ")");
    for (const Spec::Param& q : s.params) {
      int64_t span = 0, n = 1;  // the last block's offset plus the width; 0 when any count is 0
      for (size_t b = 0; b < q.extent.size() && n != 0; ++b) {
        n = product(q.extent[b].first);
        span = a.add(span, q.extent[b].second < 0 ? n : a.mul(n - 1, int64_t(val[q.extent[b].second])));
      }
      if (!q.extent.empty()) extent(q.name, n == 0 ? 0 : span);
    }
    if (!hasGpu && a.dev == kCuda) a.fail("this kernel runs on the CPU only (buffers are on cuda)");
    if (check) check(*this);
    for (size_t p = 0; p < s.params.size(); ++p)
      for (const std::string& other : s.params[p].apart) {
        const size_t o = find(other, true);
        const int64_t at = offset(p), ato = offset(o);
        if (ext[p] < 0 || ext[o] < 0) throw std::logic_error("overlap check without extents");
        if (buf[s.params[p].arg] == buf[s.params[o].arg] && ext[p] && ext[o] && at < ato + ext[o] && ato < at + ext[p])
          a.fail(s.params[p].name + " and " + other + " overlap in the same buffer");
      }
    for (int j : s.work.of) launch = launch && val[j] != 0;  // factor by factor: a zero skips the launch
  }
  size_t find(const std::string& name, bool param) const {
    for (size_t k = 0; k < (param ? s.params.size() : s.args.size()); ++k)
      if ((param ? s.params[k].name : s.args[k].name) == name) return k;
    throw std::logic_error("the row has no " + name);
  }
  int64_t i(const char* name) const { return int64_t(val[find(name, false)]); }
  float f(const char* name) const { return float(val[find(name, false)]); }
  Buffer* buffer(const char* name) const { return buf[s.params[find(name, true)].arg]; }
  int64_t offset(size_t p) const { return s.params[p].off < 0 ? 0 : int64_t(val[s.params[p].off]); }
  void require(bool ok, const char* why) const { if (!ok) a.fail(why); }
  int64_t product(const Product& p) const {
    return std::accumulate(p.of.begin(), p.of.end(), p.k, [&](int64_t k, int j) { return a.mul(k, int64_t(val[j])); });
  }
  void extent(const std::string& name, int64_t count) {  // checks and records it
    const size_t p = find(name, true);
    if (const Buffer* b = buf[s.params[p].arg]) a.extent(b, name, offset(p), count);
    ext[p] = count;
  }
  template <typename T> T value(size_t p) const {  // a buffer parameter points at its offset
    const int j = s.params[p].arg;
    if constexpr (std::is_pointer_v<T>) return buf[j] ? static_cast<T>(buf[j]->ptr) + offset(p) : nullptr;
    else return T(val[j]);
  }
};

template <typename T, typename V = std::remove_cv_t<std::remove_pointer_t<T>>> std::string kind_of() {
  if constexpr (std::is_pointer_v<T>) return std::is_same_v<V, float> ? "f32" : "i32";
  return std::is_same_v<T, float> ? "float" : std::is_same_v<T, bool> ? "bool" : "int";
}

template <typename R, typename... P, size_t... I>
Napi::Value invoke(R (*fn)(P...), const Call& c, std::index_sequence<I...>) {
  if constexpr (std::is_void_v<R>) fn(c.value<P>(I)...);
  else return Napi::Value::From(c.a.info.Env(), fn(c.value<P>(I)...));  // a bool or a number
  return c.a.info.Env().Undefined();
}

// gpu is not deduced (add_pointer_t), so nullptr passes for a function without a CUDA twin.
template <typename R, typename... P>
void bind(Napi::Env env, Napi::Object exports, const char* name, bool kernel, R (*cpu)(P...),
          std::add_pointer_t<R(P...)> gpu, const char* spec, const char* work = "", void (*check)(Call&) = nullptr) {
  auto s = std::make_shared<const Spec>(make_spec(name, spec, work, {kind_of<P>()...}));
  if (kernel) {  // signatures[op] = [[name, kind], ...]: test/native/signatures.test.ts holds native.ts to it
    if (!exports.Has("signatures")) exports.Set("signatures", Napi::Object::New(env));
    Napi::Array list = Napi::Array::New(env, s->args.size());
    for (uint32_t j = 0; j < s->args.size(); ++j) {
      list.Set(j, Napi::Array::New(env, 2));
      list.Get(j).As<Napi::Array>().Set(0u, s->args[j].name);
      list.Get(j).As<Napi::Array>().Set(1u, s->args[j].kind + (s->args[j].optional ? "?" : ""));
    }
    exports.Get("signatures").As<Napi::Object>().Set(s->op, list);
  }
  export_function(env, exports, s->op, [s, kernel, cpu, gpu, check](const Napi::CallbackInfo& info) {
    Args a(info, s->op, s->args.size());
    const Call c(a, *s, gpu != nullptr, check);
    if (!c.launch) return info.Env().Undefined();
    if (kernel) count_launch(s->op.c_str());
    const bool onGpu = gpu && a.dev == kCuda;
    const Napi::Value out = invoke(onGpu ? gpu : cpu, c, std::index_sequence_for<P...>{});
#ifdef CLLM4REC_CUDA
    if (onGpu) ::cuda::check_last(s->op.c_str());  // syncs with CLLM4REC_SYNC=1
#endif
    return out;
  });
}

#ifdef CLLM4REC_CUDA
#define CLLM4REC_GPU(name) &::cuda::name
#define GPU_QUERY(jsName, fn, ...) QUERY(jsName, ::cuda::fn, __VA_ARGS__)
#else  // a CPU-only build: GPU_QUERY's entry exists and says why it cannot work
#define CLLM4REC_GPU(name) nullptr
#define GPU_QUERY(jsName, ...) ::addon::export_function(env, exports, jsName, [](const Napi::CallbackInfo& info) \
    -> Napi::Value { throw Napi::Error::New(info.Env(), "this addon was built without CUDA (npm run build:native)"); })
#endif
// One table row: the kernel's name, once, gives the JS name, both twins and the counter.
#define ROW(name, ...) ::addon::bind(env, exports, #name, true, &::cpu::name, CLLM4REC_GPU(name), __VA_ARGS__)
#define CPU_ROW(name, ...) ::addon::bind(env, exports, #name, true, &::cpu::name, nullptr, __VA_ARGS__)
#define QUERY(jsName, fn, ...) ::addon::bind(env, exports, jsName, false, &fn, nullptr, __VA_ARGS__)

}  // namespace addon
