{
  "targets": [
    {
      "target_name": "cllm4rec",
      "sources": [
        "native/addon/buffer.cc",
        "native/addon/memory.cc",
        "native/addon/kernels.cc",
        "native/cpu/threads.cc",
        "native/cpu/gemm.cc",
        "native/cpu/elementwise.cc",
        "native/cpu/reduce.cc",
        "native/cpu/copy.cc",
        "native/cpu/layernorm.cc",
        "native/cpu/gelu.cc",
        "native/cpu/attention.cc",
        "native/cpu/embedding.cc",
        "native/cpu/cross_entropy.cc",
        "native/cpu/multinomial_nll.cc",
        "native/cpu/squared_distance.cc",
        "native/cpu/dropout.cc",
        "native/cpu/adam.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/include"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"],
      "ldflags": ["-fopenmp"]
    }
  ]
}
