// The package's main entry (`require("cllm4rec")`): train and open runs, plus every layer
// as a namespace. Each layer is also its own subpath (cllm4rec/engine, /io, /nn, /data,
// /metrics, /baselines, /run, /serve); see the README's "Use as a library".
export * from "./run";
export { serve, createService } from "./serve";
export type { ServeOptions, Service } from "./serve";
export * as engine from "./engine";
export * as io from "./io";
export * as nn from "./nn";
export * as data from "./cllm4rec/data";
export * as metrics from "./shared/metrics";
export * as baselines from "./baselines";
