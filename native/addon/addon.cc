// N-API module entry: the generic pieces of the binder (export, names, signatures) and
// the registration of the memory functions and the kernel table.
#include <napi.h>

#include <cctype>
#include <cstdlib>
#include <exception>
#include <string>

#include "binder.h"

namespace addon {

void export_function(Napi::Env env, Napi::Object exports, const std::string& name,
                     std::function<Napi::Value(const Napi::CallbackInfo&)> fn) {
  exports.Set(name, Napi::Function::New(
                        env,
                        [fn, name](const Napi::CallbackInfo& info) -> Napi::Value {
                          try {
                            return fn(info);
                          } catch (const Napi::Error&) {
                            throw;
                          } catch (const std::exception& e) {
                            throw Napi::Error::New(info.Env(), name + ": " + e.what());
                          } catch (...) {
                            throw Napi::Error::New(info.Env(), name + ": unknown native error");
                          }
                        },
                        name));
}

std::string camel_case(const char* snake) {
  std::string out;
  for (bool upper = false; *snake; ++snake) {
    if (*snake == '_') {
      upper = true;
    } else {
      out += upper ? char(std::toupper(static_cast<unsigned char>(*snake))) : *snake;
      upper = false;
    }
  }
  return out;
}

std::vector<Param> parse_params(const char* params) {
  std::vector<Param> out;
  for (const char* p = params; *p;) {
    while (*p == ' ') ++p;
    const char* end = p;
    while (*end && *end != ' ' && *end != '>') ++end;
    if (end == p) break;
    Param param{std::string(p, end), 0};
    if (end[0] == '>' && end[1] == '=') param.min = std::strtoll(end + 2, const_cast<char**>(&end), 10);
    out.push_back(param);
    p = end;
  }
  return out;
}

void add_signature(Napi::Env env, Napi::Object exports, const std::string& name,
                   const std::vector<Param>& params, const std::vector<const char*>& kinds) {
  if (!exports.Has("signatures")) exports.Set("signatures", Napi::Object::New(env));
  Napi::Array list = Napi::Array::New(env, params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    Napi::Array entry = Napi::Array::New(env, 2);
    entry.Set(uint32_t(0), params[i].name);
    entry.Set(uint32_t(1), kinds[i]);
    list.Set(uint32_t(i), entry);
  }
  exports.Get("signatures").As<Napi::Object>().Set(name, list);
}

}  // namespace addon

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  addon::register_memory(env, exports);
  addon::register_kernels(env, exports);
  return exports;
}

NODE_API_MODULE(cllm4rec, Init)
