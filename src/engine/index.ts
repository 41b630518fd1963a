// The engine's public surface.
export { Tensor, tidy, tidyAsync, keep, describe } from "./tensor";
export type { Device, DType, TensorOptions } from "./tensor";
export { backward, noGrad, zeroGrad, isGradEnabled } from "./autograd";
export { native, addonPath } from "./native";
export { matmul, linear, packBf16, type Bf16Weight } from "./ops/gemm";
export { add, scale, reshape, mul, tanh, exp, logSigmoid, combineLosses } from "./ops/elementwise";
export { rowSum, mean } from "./ops/reduce";
export { layerNorm } from "./ops/layernorm";
export { gelu } from "./ops/gelu";
export { attention } from "./ops/attention";
export type { AttentionShape } from "./ops/attention";
export { embedTokens, selectRows } from "./ops/embedding";
export type { TablePart } from "./ops/embedding";
export { concatTime } from "./ops/copy";
export { softmaxCrossEntropy, linearCrossEntropy } from "./ops/cross_entropy";
export { multinomialNll } from "./ops/multinomial_nll";
export { squaredDistance } from "./ops/squared_distance";
export { defaultDevice, cudaAvailable } from "./device";
