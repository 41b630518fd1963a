// The engine's public surface.
export { Tensor, tidy, tidyAsync, keep, describe } from "./tensor";
export type { Device, DType, TensorOptions } from "./tensor";
export { backward, noGrad, zeroGrad, isGradEnabled } from "./autograd";
export { native, addonPath } from "./native";
export { matmul, linear } from "./ops/matmul";
export { add, scale, reshape } from "./ops/elementwise";
export { layerNorm } from "./ops/layernorm";
export { gelu } from "./ops/gelu";
export { attention } from "./ops/attention";
export type { AttentionShape } from "./ops/attention";
export { embedTokens, selectRows } from "./ops/embedding";
export type { TablePart } from "./ops/embedding";
export { concatTime } from "./ops/concat";
export { linearCrossEntropy } from "./ops/linear-xent";
export { softmaxCrossEntropy, multinomialNll, squaredDistance, combineLosses } from "./ops/losses";
export { defaultDevice, cudaAvailable } from "./device";
export { mul, tanh, exp, logSigmoid, rowSum, mean } from "./ops/pointwise";
