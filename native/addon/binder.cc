// The generic half of the binder (binder.h): row specs, argument reading, extents,
// signatures and the exception boundary of every entry point.
#include "binder.h"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>

namespace addon {

namespace {

std::string camel_case(const char* snake) {
  std::string out;
  for (bool upper = false; *snake; ++snake) {
    if (*snake == '_') {
      upper = true;
      continue;
    }
    out += upper ? char(std::toupper(static_cast<unsigned char>(*snake))) : *snake;
    upper = false;
  }
  return out;
}

// The next name in p (letters, digits, '_'), advancing p past it.
std::string word(const char*& p) {
  const char* start = p;
  while (std::isalnum(static_cast<unsigned char>(*p)) || *p == '_') ++p;
  return std::string(start, p);
}

}  // namespace

void export_function(Napi::Env env, Napi::Object exports, const std::string& name,
                     std::function<Napi::Value(const Napi::CallbackInfo&)> fn) {
  auto guarded = [fn, name](const Napi::CallbackInfo& info) -> Napi::Value {
    try {
      return fn(info);
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), name + ": " + e.what());
    } catch (...) {
      throw Napi::Error::New(info.Env(), name + ": unknown native error");
    }
  };
  exports.Set(name, Napi::Function::New(env, guarded, name));
}

Spec make_spec(const char* snake, const char* text, const char* work,
               const std::vector<char>& kinds) {
  Spec s;
  s.op = camel_case(snake);
  auto bad = [&](const std::string& why) { throw std::logic_error(s.op + ": row spec: " + why); };
  auto arg = [&](const std::string& name, char kind, bool optional) {
    for (size_t j = 0; j < s.args.size(); ++j)
      if (s.args[j] == name) return int(j);
    s.args.push_back(name);
    s.kinds.push_back(kind);
    s.optional.push_back(optional);
    s.min.push_back(0);
    return int(s.args.size() - 1);
  };
  auto product = [&](const char* p) {
    Product out;
    do {
      if (std::isdigit(static_cast<unsigned char>(*p))) {
        out.push_back({-1, std::strtoll(p, const_cast<char**>(&p), 10)});
      } else {
        const std::string name = word(p);
        size_t j = 0;
        while (j < s.args.size() && s.args[j] != name) ++j;
        if (j == s.args.size() || s.kinds[j] != 'n') bad("'" + name + "' is not an integer argument");
        out.push_back({int(j), 0});
      }
    } while (*p == '*' && ++p);
    if (*p) bad(std::string("unexpected '") + *p + "' in a product");
    return out;
  };
  std::vector<std::string> extents;  // resolved once every argument is known
  for (const char* p = text; *p;) {
    if (*p == ' ') {
      ++p;
    } else if (*p == '+') {
      arg(word(++p), 'b', false);
    } else {
      if (s.items.size() == kinds.size()) bad("more items than the kernel has parameters");
      Item it;
      const char kind = kinds[s.items.size()];
      it.name = word(p);
      std::string js = it.name;
      if (*p == '=') js = word(++p);
      it.optional = *p == '?' && ++p;
      it.js = arg(js, kind, it.optional);
      if (*p == '@') it.off = arg(word(++p), 'n', false);
      if (p[0] == '>' && p[1] == '=') s.min[it.js] = std::strtoll(p + 2, const_cast<char**>(&p), 10);
      std::string extent;
      if (*p == '[') {
        const char* close = std::strchr(p, ']');
        if (!close) bad("extent of " + it.name + " lacks its ']'");
        extent.assign(p + 1, close);
        it.hasExtent = true;
        p = close + 1;
      }
      extents.push_back(extent);
      while (*p == '!') it.apart.push_back(word(++p));
      if (*p && *p != ' ') bad(std::string("unexpected '") + *p + "' after " + it.name);
      s.items.push_back(it);
    }
  }
  if (s.items.size() != kinds.size()) bad("fewer items than the kernel has parameters");
  for (size_t k = 0; k < s.items.size(); ++k)
    if (s.items[k].hasExtent) s.items[k].extent = product(extents[k].c_str());
  if (*work) s.work = product(work);
  return s;
}

int Call::arg(const char* name) const {
  for (size_t j = 0; j < s.args.size(); ++j)
    if (s.args[j] == name) return int(j);
  throw std::logic_error(std::string("no argument ") + name);
}

size_t Call::item(const char* name) const {
  for (size_t k = 0; k < s.items.size(); ++k)
    if (s.items[k].name == name) return k;
  throw std::logic_error(std::string("no item ") + name);
}

int64_t Call::product(const Product& p) const {
  int64_t out = 1;
  for (const auto& [j, literal] : p) out = a.mul(out, j < 0 ? literal : num[j]);
  return out;
}

void Call::extent(const char* name, int64_t count) {
  const size_t k = item(name);
  ext[k] = count;
  if (Buffer* b = buf[s.items[k].js]) a.extent(b, name, offset(k), count);
}

int64_t prepare(Call& c, Check check) {
  const Spec& s = c.s;
  const size_t n = s.args.size();
  c.buf.assign(n, nullptr);
  c.num.assign(n, 0);
  c.real.assign(n, 0.0);
  c.ext.assign(s.items.size(), -1);
  for (size_t j = 0; j < n; ++j) {
    const char* name = s.args[j].c_str();
    switch (s.kinds[j]) {
      case 'f':
      case 'i': {
        const int dtype = s.kinds[j] == 'f' ? kF32 : kI32;
        c.buf[j] = s.optional[j] ? c.a.optional_buffer(j, name, dtype) : c.a.buffer(j, name, dtype);
        break;
      }
      case 'n':
        c.num[j] = c.a.integer(j, name, s.min[j]);
        c.a.shape(name, c.num[j]);
        break;
      case 'x':
        c.real[j] = c.a.number(j, name);
        break;
      default:
        c.num[j] = c.a.flag(j, name);
    }
  }
  for (size_t k = 0; k < s.items.size(); ++k)
    if (s.items[k].hasExtent) c.extent(s.items[k].name.c_str(), c.product(s.items[k].extent));
  const int64_t work = check ? check(c) : 1;
  for (size_t k = 0; k < s.items.size(); ++k)
    for (const std::string& other : s.items[k].apart) {
      const size_t o = c.item(other.c_str());
      if (c.ext[k] < 0 || c.ext[o] < 0) throw std::logic_error(s.op + ": overlap check without extents");
      c.a.disjoint(c.buf[s.items[k].js], s.items[k].name.c_str(), c.offset(k), c.ext[k],
                   c.buf[s.items[o].js], other.c_str(), c.offset(o), c.ext[o]);
    }
  for (const auto& [j, literal] : s.work)
    if ((j < 0 ? literal : c.num[j]) == 0) return 0;
  return work;
}

void add_signature(Napi::Env env, Napi::Object exports, const Spec& s) {
  static const char* names[] = {"f32", "i32", "int", "float", "bool"};
  if (!exports.Has("signatures")) exports.Set("signatures", Napi::Object::New(env));
  Napi::Array list = Napi::Array::New(env, s.args.size());
  for (size_t j = 0; j < s.args.size(); ++j) {
    std::string kind = names[std::strchr("finxb", s.kinds[j]) - "finxb"];
    if (s.optional[j]) kind += "?";
    Napi::Array entry = Napi::Array::New(env, 2);
    entry.Set(uint32_t(0), s.args[j]);
    entry.Set(uint32_t(1), kind);
    list.Set(uint32_t(j), entry);
  }
  exports.Get("signatures").As<Napi::Object>().Set(s.op, list);
}

}  // namespace addon
