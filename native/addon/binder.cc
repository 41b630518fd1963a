// The generic half of the binder (binder.h): reading row specs, reading and checking the
// arguments of a call, signatures, and the exception boundary of every entry point.
#include "binder.h"

#include <cctype>
#include <exception>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace addon {

namespace {
bool literal(const Product& p) { return p.size() == 1 && p[0].first < 0; }
}  // namespace

void export_function(Napi::Env env, Napi::Object exports, const std::string& name,
                     std::function<Napi::Value(const Napi::CallbackInfo&)> fn) {
  auto guarded = [fn, name](const Napi::CallbackInfo& info) -> Napi::Value {
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
  };
  exports.Set(name, Napi::Function::New(env, guarded, name));
}

Spec make_spec(const char* kernel, const char* text, const char* work, std::vector<char> kinds) {
  Spec s;
  for (const char* p = kernel; *p; ++p)  // layer_norm_forward -> layerNormForward
    if (*p != '_') s.op += p > kernel && p[-1] == '_' ? char(std::toupper(*p)) : *p;
  auto bad = [&](const std::string& why) { throw std::logic_error(s.op + " row: " + why); };
  auto arg = [&](const std::string& name, char kind, bool optional) {
    for (size_t j = 0; j < s.args.size(); ++j)
      if (s.args[j].name == name) return int(j);
    s.args.push_back({name, kind, optional, {}, ""});
    return int(s.args.size() - 1);
  };
  auto product = [&](const std::string& expr) {
    Product out;
    std::istringstream factors(expr);
    for (std::string f; std::getline(factors, f, '*');) {
      if (f[0] == '-' || std::isdigit(static_cast<unsigned char>(f[0]))) {
        out.push_back({-1, std::stoll(f)});
        continue;
      }
      int j = 0;
      while (j < int(s.args.size()) && s.args[j].name != f) ++j;
      if (j == int(s.args.size()) || s.args[j].kind != 'n') bad(f + " is no integer argument");
      out.push_back({j, 0});
    }
    return out;
  };
  auto extent = [&](const std::string& expr) {  // "count:stride,...,width"
    Extent e;
    std::istringstream parts(expr);
    for (std::string part; std::getline(parts, part, ',');) {
      const size_t colon = part.find(':');
      if (colon == std::string::npos) {
        e.width = product(part);
      } else {
        e.blocks.push_back({product(part.substr(0, colon)), 0});
        e.blocks.back().second = product(part.substr(colon + 1)).at(0).first;
      }
    }
    return e;
  };
  static const std::regex param(
      R"((?:(\w+)=)?(\w+)(\?)?(?:@(\w+))?(?:>=(-?[\w*]+))?(?:\[([\w*:,]+)\])?((?:!\w+)*))");
  std::vector<std::string> extents, mins;  // read once every argument is known
  std::istringstream words(text);
  for (std::string w; words >> w;) {
    std::smatch m;
    if (w[0] == '+') {
      arg(w.substr(1), 'b', false);
    } else if (!std::regex_match(w, m, param) || s.params.size() == kinds.size()) {
      bad("cannot place '" + w + "' (" + std::to_string(kinds.size()) + " kernel parameters)");
    } else {
      const int at = arg(m[2], kinds[s.params.size()], m[3].matched);
      s.params.push_back({m[1].matched ? m[1].str() : m[2].str(), at,
                          m[4].matched ? arg(m[4], 'n', false) : -1, m[6].matched, {}, {}});
      mins.resize(s.args.size());
      if (m[5].matched) mins[at] = m[5];
      std::istringstream others(m[7].str());
      for (std::string o; std::getline(others, o, '!');)
        if (!o.empty()) s.params.back().apart.push_back(o);
      extents.push_back(m[6]);
    }
  }
  if (s.params.size() != kinds.size()) bad("fewer parameters than the kernel has");
  mins.resize(s.args.size());
  for (size_t j = 0; j < s.args.size(); ++j)
    if (!mins[j].empty()) s.args[j].min = product(s.args[j].bound = mins[j]);
  for (size_t p = 0; p < s.params.size(); ++p)
    if (s.params[p].sized) s.params[p].extent = extent(extents[p]);
  if (*work) s.work = product(work);
  return s;
}

void add_signature(Napi::Env env, Napi::Object exports, const Spec& s) {
  if (!exports.Has("signatures")) exports.Set("signatures", Napi::Object::New(env));
  Napi::Array list = Napi::Array::New(env, s.args.size());
  for (uint32_t j = 0; j < s.args.size(); ++j) {
    const char k = s.args[j].kind;
    std::string kind = k == 'f' ? "f32" : k == 'i' ? "i32" : k == 'n' ? "int" : k == 'x' ? "float" : "bool";
    Napi::Array entry = Napi::Array::New(env, 2);
    entry.Set(0u, s.args[j].name);
    entry.Set(1u, kind + (s.args[j].optional ? "?" : ""));
    list.Set(j, entry);
  }
  exports.Get("signatures").As<Napi::Object>().Set(s.op, list);
}

size_t Call::find(const char* name, bool param) const {
  const size_t n = param ? s.params.size() : s.args.size();
  for (size_t k = 0; k < n; ++k)
    if ((param ? s.params[k].name : s.args[k].name) == name) return k;
  throw std::logic_error(std::string("the row has no ") + name);
}

int64_t Call::product(const Product& p) const {
  int64_t out = 1;
  for (const auto& [j, literal] : p) out = a.mul(out, j < 0 ? literal : int64_t(val[j]));
  return out;
}

int64_t Call::span(const Extent& e) const {
  int64_t last = 0, width = product(e.width);
  for (const auto& [count, stride] : e.blocks) {
    const int64_t n = product(count);
    if (n == 0) return 0;
    last = a.add(last, a.mul(n - 1, int64_t(val[stride])));
  }
  return width == 0 ? 0 : a.add(last, width);
}

void Call::extent(const char* name, int64_t count) {
  const size_t p = find(name, true);
  ext[p] = count;
  if (Buffer* b = buf[s.params[p].arg]) a.extent(b, name, offset(p), count);
}

int64_t prepare(Call& c, Check check) {
  const Spec& s = c.s;
  c.buf.assign(s.args.size(), nullptr);
  c.val.assign(s.args.size(), 0.0);
  c.ext.assign(s.params.size(), -1);
  for (size_t j = 0; j < s.args.size(); ++j) {
    const Spec::Arg& g = s.args[j];
    const char* name = g.name.c_str();
    if (g.kind == 'f' || g.kind == 'i') {
      const int dtype = g.kind == 'f' ? kF32 : kI32;
      c.buf[j] = g.optional ? c.a.optional_buffer(j, name, dtype) : c.a.buffer(j, name, dtype);
    } else if (g.kind == 'n') {
      c.val[j] = double(c.a.integer(j, name, literal(g.min) ? g.min[0].second : 0));
      c.a.shape(name, int64_t(c.val[j]));
    } else {
      c.val[j] = g.kind == 'x' ? double(c.a.number(j, name)) : double(c.a.flag(j, name));
    }
  }
  for (size_t j = 0; j < s.args.size(); ++j)  // bounds by other arguments, after reading all
    if (!s.args[j].min.empty() && !literal(s.args[j].min) &&
        c.val[j] < double(c.product(s.args[j].min)))
      c.a.fail(s.args[j].name + " must be >= " + s.args[j].bound + " (" +
               std::to_string(c.product(s.args[j].min)) + ")");
  for (size_t p = 0; p < s.params.size(); ++p)
    if (s.params[p].sized) c.extent(s.params[p].name.c_str(), c.span(s.params[p].extent));
  const int64_t work = check ? check(c) : 1;
  for (size_t p = 0; p < s.params.size(); ++p)
    for (const std::string& other : s.params[p].apart) {
      const size_t o = c.find(other.c_str(), true);
      if (c.ext[p] < 0 || c.ext[o] < 0) throw std::logic_error("overlap check without extents");
      c.a.disjoint(c.buf[s.params[p].arg], s.params[p].name.c_str(), c.offset(p), c.ext[p],
                   c.buf[s.params[o].arg], other.c_str(), c.offset(o), c.ext[o]);
    }
  for (const auto& [j, literal] : s.work)
    if ((j < 0 ? literal : int64_t(c.val[j])) == 0) return 0;
  return work;
}

void after_gpu_launch(const char* op) {
#ifdef CLLM4REC_CUDA
  ::cuda::check_last(op);
#else
  (void)op;
#endif
}

}  // namespace addon
