// Rows of the CPU-only kernels (native/include/kernels_cpu.h) in the binder's table form,
// with no CUDA twin: each check rejects cuda buffers before anything launches. Plus three
// queries that return values (not kernels): bf16Supported, bf16PackedWords, fmaPeak.
#include <string>

#include "binder.h"
#include "kernels_cpu.h"

namespace addon {

namespace {

void cpu_only(Call& c) {
  if (c.a.device() != kCpu) c.a.fail("this kernel runs on the CPU only (buffers are on cuda)");
}

}  // namespace

#define CPU_ROW(name, ...) ::addon::bind(env, exports, #name, &::cpu::name, nullptr, __VA_ARGS__)

void register_cpu_fast(Napi::Env env, Napi::Object exports) {
  // ---- cross_entropy: the fused vocabulary head
  CPU_ROW(linear_xent_forward, "h[n*d] W[C*d] target[n] loss[n] lse[n] dh?[n*d]!h!W n C>=1 d>=1", "n",
          [](Call& c) {
            cpu_only(c);
            const int64_t n = c.i("n"), C = c.i("C");
            const int32_t* t = static_cast<const int32_t*>(c.buffer("target")->ptr);
            for (int64_t r = 0; r < n; ++r)
              if (t[r] >= C)
                c.a.range_error("target " + std::to_string(t[r]) + " at row " + std::to_string(r) +
                                " is out of range for " + std::to_string(C) + " classes");
            return n;
          });
  // ---- gemm: BF16 weights packed once, BF16 products with fp32 accumulation
  CPU_ROW(bf16_pack_b, "transB B[K*N] K N dst", "K*N", [](Call& c) {
    cpu_only(c);
    c.extent("dst", cpu::bf16_packed_words(c.i("K"), c.i("N")));
    return int64_t(1);
  });
  CPU_ROW(gemm_bf16, "transA M N K>=1 alpha A@offA[M*K] Bp beta C@offC[M*N]!A bias?[N]", "M*N", [](Call& c) {
    cpu_only(c);
    if (!cpu::has_avx512_bf16()) c.a.fail("this CPU has no AVX512_BF16 (check bf16Supported() first)");
    c.extent("Bp", cpu::bf16_packed_words(c.i("K"), c.i("N")));
    return int64_t(1);
  });

  export_function(env, exports, "bf16Supported", [](const Napi::CallbackInfo& info) -> Napi::Value {
    return Napi::Boolean::New(info.Env(), cpu::has_avx512_bf16());
  });
  export_function(env, exports, "bf16PackedWords", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Args a(info, "bf16PackedWords", 2);
    const int64_t K = a.integer(0, "K"), N = a.integer(1, "N");
    return Napi::Number::New(info.Env(), double(cpu::bf16_packed_words(K, N)));
  });
  // fmaPeak(kind, seconds) -> { flops, lanes }
  export_function(env, exports, "fmaPeak", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Args a(info, "fmaPeak", 2);
    const int64_t kind = a.integer(0, "kind");
    if (kind > 1) a.fail("kind must be 0 (fp32) or 1 (bf16)");
    const float seconds = a.number(1, "seconds");
    if (!(seconds > 0 && seconds <= 60)) a.fail("seconds must be in (0, 60]");
    int lanes = 0;
    const double flops = cpu::fma_peak(int(kind), seconds, &lanes);
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("flops", Napi::Number::New(info.Env(), flops));
    o.Set("lanes", Napi::Number::New(info.Env(), lanes));
    return o;
  });
}

}  // namespace addon
