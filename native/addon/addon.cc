// N-API module entry: registers the memory functions and the kernel entry points.
#include <napi.h>

#include <exception>
#include <string>

#include "dispatch.h"

namespace addon {

void export_function(Napi::Env env, Napi::Object exports, const char* name,
                     Napi::Value (*fn)(const Napi::CallbackInfo&)) {
  const std::string op = name;
  exports.Set(name, Napi::Function::New(
                        env,
                        [fn, op](const Napi::CallbackInfo& info) -> Napi::Value {
                          try {
                            return fn(info);
                          } catch (const Napi::Error&) {
                            throw;
                          } catch (const std::exception& e) {
                            throw Napi::Error::New(info.Env(), op + ": " + e.what());
                          } catch (...) {
                            throw Napi::Error::New(info.Env(), op + ": unknown native error");
                          }
                        },
                        name));
}

// native/addon/pointwise_bind.cc: the pointwise family of the neural baselines.
void register_pointwise(Napi::Env env, Napi::Object exports);

}  // namespace addon

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  addon::register_memory(env, exports);
  addon::register_kernels(env, exports);
  addon::register_pointwise(env, exports);
  return exports;
}

NODE_API_MODULE(cllm4rec, Init)
