// The kernel families, the unit of the engine. Family F lives under one snake_case name:
// native/cpu/F.cc, native/cuda/F.cu, its wrapper src/engine/ops/F.ts (unless `wrapper`
// says otherwise), test/native/F.test.ts, test/cuda/F.test.ts, test/ops/F.test.ts and,
// when `bench`, bench/F.bench.ts. test/families.test.ts checks that every file exists and
// that every kernel of native/include/kernels.h belongs to exactly one family.

export interface Family {
  readonly name: string;
  /** what it computes (the README's family table) */
  readonly what: string;
  /** its kernels, as declared in kernels.h (each is one row of native/addon/kernels.cc) */
  readonly kernels: readonly string[];
  /** CPU-only kernels with no CUDA twin yet (native/include/kernels_cpu.h, CPU_ROW rows in
   *  native/addon/kernels.cc); the engine uses them for cpu tensors only */
  readonly cpuOnly?: readonly string[];
  /** the TypeScript ops it provides */
  readonly ops: readonly string[];
  /** the wrapper file when it is not src/engine/ops/<name>.ts */
  readonly wrapper?: string;
  /** has bench/<name>.bench.ts */
  readonly bench?: boolean;
}

export const FAMILIES: readonly Family[] = [
  {
    name: "gemm",
    what: "C = alpha op(A) op(B) + beta C (+ bias), batched, any transposes; BF16 frozen weights (CPU panels; CUDA tensor cores); linear -> GELU in one GEMM (GELU epilogue)",
    bench: true,
    kernels: ["gemm", "gemm_bf16_b", "gemm_gelu", "gemm_bf16_b_gelu", "f32_to_bf16"],
    cpuOnly: ["bf16_pack_b", "gemm_bf16"],
    ops: ["matmul", "linear", "linearGelu", "packBf16", "toBf16"],
  },
  {
    name: "elementwise",
    what: "add, scale, mul, tanh, exp, log-sigmoid, fill; outputs may alias inputs",
    kernels: [
      "add",
      "fill",
      "mul",
      "tanh_forward",
      "tanh_backward",
      "exp_forward",
      "exp_backward",
      "log_sigmoid_forward",
      "log_sigmoid_backward",
    ],
    ops: ["add", "scale", "reshape", "mul", "tanh", "exp", "logSigmoid", "combineLosses"],
  },
  {
    name: "reduce",
    what: "sum, col_sum (over rows: bias gradients), row_sum (over columns); double, fixed order",
    kernels: ["sum", "col_sum", "row_sum_forward", "row_sum_backward"],
    ops: ["rowSum", "mean"],
  },
  { name: "copy", what: "batched strided 2-D block copy (concat along time)", kernels: ["copy_strided"], ops: ["concatTime"] },
  {
    name: "layernorm",
    what: "LayerNorm over the last dim; dx, dgamma, dbeta",
    kernels: ["layernorm_forward", "layernorm_backward"],
    ops: ["layerNorm"],
  },
  { name: "gelu", what: "GELU, tanh approximation (GPT-2's gelu_new)", kernels: ["gelu_forward", "gelu_backward"], ops: ["gelu"] },
  {
    name: "attention",
    what: "causal multi-head attention, key-padding mask, key prefix",
    bench: true,
    kernels: ["attention_forward", "attention_backward"],
    ops: ["attention"],
  },
  {
    name: "embedding",
    what: "row gather and deterministic scatter-add over tables sharing an id space",
    kernels: ["gather_rows", "scatter_add_rows"],
    ops: ["embedTokens", "selectRows"],
  },
  {
    name: "cross_entropy",
    what: "fused softmax cross-entropy (masked rows); chunked LM head, and on the CPU the fused head (online softmax, loss and dh in one pass; fp32, or BF16 on frozen packed W)",
    bench: true,
    kernels: ["cross_entropy_forward", "cross_entropy_backward"],
    cpuOnly: ["linear_xent_forward", "linear_xent_bf16_forward"],
    ops: ["softmaxCrossEntropy", "linearCrossEntropy", "packHeadBf16"],
  },
  {
    name: "multinomial_nll",
    what: "fused log-softmax + multinomial NLL, sparse (CSR) multi-hot targets, chunked over the items (RecLLM head)",
    bench: true,
    kernels: ["multinomial_nll_forward", "multinomial_nll_backward"],
    ops: ["multinomialNll", "linearMultinomialNll", "multiHotTargets"],
  },
  {
    name: "squared_distance",
    what: "the regulariser sum (a - b)^2, b constant",
    kernels: ["squared_distance_forward", "squared_distance_backward"],
    ops: ["squaredDistance"],
  },
  {
    name: "dropout",
    what: "inverted dropout from Philox4x32-10 counters (seed, site, step, index); the backward regenerates the mask",
    kernels: ["philox_blocks", "dropout_forward", "dropout_backward"],
    ops: ["dropout"],
  },
  {
    name: "adam",
    what: "Adam step in place, bias-corrected; the step's non-finite guard (first bad step on the device, later updates skipped)",
    kernels: ["adam", "flag_nonfinite"],
    ops: ["Adam"],
    wrapper: "src/nn/adam.ts",
  },
];
