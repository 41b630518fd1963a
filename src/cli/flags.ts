// Command-line flags: one table drives parsing, validation and --help, so every flag is
// documented and no flag is parsed without being listed.
import { PAPER_DEFAULTS, QUICK_PRESET, type TrainConfig } from "../cllm4rec/train/config";

export type FlagKind = "string" | "number" | "int" | "bool";

export interface FlagDef {
  name: string; // without the leading --
  kind: FlagKind;
  help: string;
  /** the TrainConfig field it sets */
  config?: keyof TrainConfig;
  choices?: string[];
  group: string;
}

const cfgFlag = (name: string, config: keyof TrainConfig, kind: FlagKind, help: string, choices?: string[]): FlagDef => ({
  name,
  kind,
  help: `${help} (paper default ${String(PAPER_DEFAULTS[config])}${config in QUICK_PRESET ? `, quick ${String(QUICK_PRESET[config])}` : ""})`,
  config,
  choices,
  group: "training",
});

export const FLAGS: FlagDef[] = [
  {
    name: "data",
    kind: "string",
    group: "data",
    help: "synthetic | movielens DIR | amazon FILE | generic FILE (interactions CSV/TSV/JSONL) | npz DIR (the authors' train/val/test_matrix.npz, split used as is); also KIND=PATH",
  },
  { name: "item-text", kind: "string", group: "data", help: "generic data: item text file (item,text)" },
  { name: "user-text", kind: "string", group: "data", help: "generic data: user text file (user,text)" },
  { name: "review-text", kind: "string", group: "data", help: "generic data: review file (user,item,text)" },
  { name: "amazon-meta", kind: "string", group: "data", help: "amazon data: optional metadata file with item titles/descriptions" },
  { name: "rating-threshold", kind: "number", group: "data", help: "positives are ratings above this (default 3)" },
  { name: "user-core", kind: "int", group: "data", help: "keep users with at least this many positives, iteratively (default 5)" },
  { name: "item-core", kind: "int", group: "data", help: "keep items with at least this many positives (default 0 = off)" },
  { name: "split-seed", kind: "int", group: "data", help: "seed of the 80/10/10 split (default 42)" },
  { name: "synthetic-users", kind: "int", group: "data", help: "synthetic data: number of users (default 1000)" },
  { name: "synthetic-items", kind: "int", group: "data", help: "synthetic data: number of items (default 500)" },
  { name: "strict", kind: "bool", group: "data", help: "stop at the first malformed input row instead of counting it" },
  {
    name: "model",
    kind: "string",
    group: "model",
    help: "a Hugging Face GPT-2 folder (config.json, model.safetensors[, vocab.json, merges.txt]); default: see --backbone",
  },
  {
    name: "backbone",
    kind: "string",
    group: "model",
    choices: ["pretrained", "random"],
    help:
      "without --model: pretrained (default; a 2-layer d=128 GPT-2 pretrained once on the data's training text, about a minute, cached) " +
      "or random (the tiny random backbone of earlier versions)",
  },
  {
    name: "device",
    kind: "string",
    group: "model",
    choices: ["auto", "cpu", "cuda"],
    help: "where to run (default auto: cuda when a GPU answers, else cpu)",
  },
  {
    name: "dtype",
    kind: "string",
    group: "model",
    choices: ["bf16", "fp32", "f32"],
    help: "precision of the frozen GPT-2 weights: bf16 stores them once in BF16 and runs their GEMMs with fp32 accumulation (CUDA: tensor cores, wte too; CPU: AVX512_BF16, otherwise fp32 with a note); fp32 (= f32) keeps them fp32 and runs FP32 attention on CUDA (bf16: flash attention on BF16 operands); user/item tables, gradients and Adam state are always fp32; default bf16 on CUDA, f32 on the CPU",
  },
  { name: "threads", kind: "int", group: "model", help: "CPU threads for the kernels (default: all cores)" },
  {
    name: "out",
    kind: "string",
    group: "run",
    help: "run folder: config, dataset card, metrics.jsonl, checkpoints, report (default runs/<data>-<time>)",
  },
  {
    name: "resume",
    kind: "bool",
    group: "run",
    help: "continue the run in --out from its last complete epoch; may change only learning rates, epoch counts and patience",
  },
  {
    name: "allow-data-change",
    kind: "bool",
    group: "run",
    help: "evaluate/recommend/export/--resume: use the run although its data files changed since training",
  },
  {
    name: "preset",
    kind: "string",
    group: "run",
    choices: ["quick", "paper"],
    help: "epoch counts: quick (minutes; default for synthetic data) or paper (SPEC.md; default otherwise)",
  },
  {
    name: "profile",
    kind: "bool",
    group: "run",
    help: "time every native kernel: a per-op table (calls, ms, GFLOP/s or GB/s) at the end and profile.json in the run folder (on CUDA each call synchronises)",
  },
  { name: "compare", kind: "bool", group: "run", help: "also train the baselines on the same split and write compare.md/.json/.svg" },
  { name: "users", kind: "string", group: "recommend", help: "recommend: comma-separated original user ids" },
  { name: "top", kind: "int", group: "recommend", help: "recommend: items per user (default 10)" },
  { name: "to", kind: "string", group: "export", help: "export: output .safetensors file (default <out>/embeddings.safetensors)" },
  {
    name: "prompt",
    kind: "string",
    group: "generate",
    help: "generate: text to continue greedily with the backbone (default 'The capital of France is')",
  },
  { name: "tokens", kind: "int", group: "generate", help: "generate: tokens to append (default 10)" },
  { name: "port", kind: "int", group: "serve", help: "serve: TCP port (default 8080; 0 = any free port)" },
  { name: "host", kind: "string", group: "serve", help: "serve: address to listen on (default 127.0.0.1, localhost only)" },
  { name: "max-batch", kind: "int", group: "serve", help: "serve: users per forward pass (default 64)" },
  { name: "max-wait-ms", kind: "number", group: "serve", help: "serve: longest wait of a forming batch for more requests, ms (default 5)" },
  { name: "max-queue", kind: "int", group: "serve", help: "serve: users waiting beyond which requests get 503 (default 1024)" },
  { name: "help", kind: "bool", group: "run", help: "print this help" },
  {
    name: "text",
    kind: "string",
    group: "pretrain",
    help: "pretrain: UTF-8 text file(s), comma-separated; documents are paragraphs (blank-line separated)",
  },
  { name: "layers", kind: "int", group: "pretrain", help: "pretrain: transformer blocks (default 2)" },
  { name: "d", kind: "int", group: "pretrain", help: "pretrain: model width n_embd (default 128)" },
  { name: "heads", kind: "int", group: "pretrain", help: "pretrain: attention heads; must divide --d (default 4)" },
  { name: "context", kind: "int", group: "pretrain", help: "pretrain: tokens per training window (default 128)" },
  { name: "positions", kind: "int", group: "pretrain", help: "pretrain: rows of the position table, >= --context (default 1024)" },
  {
    name: "max-steps",
    kind: "int",
    group: "pretrain",
    help: "pretrain: optimizer steps (default 1000); with --resume a larger value extends the run",
  },
  { name: "lr", kind: "number", group: "pretrain", help: "pretrain: AdamW peak learning rate (default 3e-3)" },
  { name: "min-lr", kind: "number", group: "pretrain", help: "pretrain: cosine floor (default lr / 10)" },
  { name: "warmup", kind: "int", group: "pretrain", help: "pretrain: linear warmup steps (default 50)" },
  {
    name: "weight-decay",
    kind: "number",
    group: "pretrain",
    help: "pretrain: AdamW decoupled weight decay on matrices and embeddings (default 0.1)",
  },
  { name: "grad-clip", kind: "number", group: "pretrain", help: "pretrain: global gradient-norm limit, 0 = off (default 1)" },
  { name: "val-every", kind: "int", group: "pretrain", help: "pretrain: steps between validation perplexities (default 100)" },
  { name: "checkpoint-every", kind: "int", group: "pretrain", help: "pretrain: steps between checkpoints (default 100)" },
  cfgFlag("seed", "seed", "int", "seed of initialisation, corpora order and masks"),
  cfgFlag("batch-size", "batchSize", "int", "documents per step"),
  cfgFlag("lambda-c", "lambdaC", "number", "mutual-regularisation strength lambda_c"),
  cfgFlag("lr-pretrain", "lrPretrain", "number", "Adam learning rate of pretraining (and of the content side throughout)"),
  cfgFlag("lr-finetune", "lrFinetune", "number", "Adam learning rate of RecLLM finetuning"),
  cfgFlag("content-epochs", "contentEpochs", "int", "content-only pretraining epochs"),
  cfgFlag("alternating-epochs", "alternatingEpochs", "int", "epochs of one L-step pass then one C-step pass"),
  cfgFlag("finetune-epochs", "finetuneEpochs", "int", "RecLLM finetuning epochs (each followed by a C-step pass)"),
  cfgFlag("rec-target", "recTarget", "string", "RecLLM target: all training items (authors' code) or the masked ones (paper)", [
    "all",
    "heldout",
  ]),
  cfgFlag("patience", "patience", "int", "stop finetuning after this many evaluations without improvement (0 = never)"),
  cfgFlag("eval-every", "evalEvery", "int", "finetuning epochs between validation evaluations"),
  cfgFlag("max-tokens", "maxTokens", "int", "prompt + main tokens per document (truncates the end of the main text)"),
  cfgFlag("length-aware", "lengthAware", "bool", "bucket documents by length to cut padding (--no-length-aware to turn off)"),
  cfgFlag(
    "ablation",
    "ablation",
    "string",
    "none | llm-cf (no content LLM, no regularisation) | fixord (fixed item order) | prerec (no finetuning) | llm-scratch (backbone from random init, trained) | llm-ftall (the whole backbone finetuned)",
    ["none", "llm-cf", "fixord", "prerec", "llm-scratch", "llm-ftall"],
  ),
  cfgFlag("content-fraction", "contentFraction", "number", "fraction of the content corpus per C-step pass (speed knob)"),
  cfgFlag(
    "reg-scale",
    "regScale",
    "string",
    "regulariser scale: sum over the batch's token occurrences (authors' MSELoss(sum)) or that sum / batch size",
    ["sum", "mean"],
  ),
  cfgFlag(
    "test-exclude",
    "testExclude",
    "string",
    "items left out of the test ranking: training items (authors' predict.py) or training + validation items (a labelled variant)",
    ["train", "train+val"],
  ),
  cfgFlag(
    "sync-every",
    "syncEvery",
    "int",
    "steps between host reads of the loss (a full device sync); NaN/Inf is flagged on the device, reported with its step, and no update is applied from that step on; 0 = auto: 1 on CPU, 16 on CUDA",
  ),
  cfgFlag(
    "dropout",
    "dropout",
    "number",
    "backbone dropout in training: embedding sum and residual branches, as HF GPT-2 (not the attention probabilities); never at evaluation",
  ),
  cfgFlag(
    "content-opt-finetune",
    "contentOptFinetune",
    "string",
    "content-side Adam for finetuning's C-steps: fresh at --lr-finetune (authors) or keep the pretraining one",
    ["fresh", "keep"],
  ),
];

export interface ParsedArgs {
  command: string;
  flags: Record<string, string | number | boolean>;
  positional: string[];
}

export const COMMANDS = ["train", "evaluate", "recommend", "export", "generate", "serve", "pretrain"];

export function parseArgs(argv: string[]): ParsedArgs {
  const byName = new Map(FLAGS.map((f) => [f.name, f]));
  const flags: Record<string, string | number | boolean> = {};
  const positional: string[] = [];
  let command = "train";
  let i = 0;
  if (argv[0] && !argv[0].startsWith("-")) {
    if (!COMMANDS.includes(argv[0])) throw new Error(`unknown command '${argv[0]}' (commands: ${COMMANDS.join(", ")}; see --help)`);
    command = argv[0];
    i = 1;
  }
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    let [name, value] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    let negated = false;
    if (!byName.has(name) && name.startsWith("no-") && byName.get(name.slice(3))?.kind === "bool") {
      name = name.slice(3);
      negated = true;
    }
    const def = byName.get(name);
    if (!def) throw new Error(`unknown flag --${name} (see --help)`);
    if (def.kind === "bool") {
      if (value !== undefined && !["true", "false"].includes(value))
        throw new Error(`--${name} takes no value (or true/false), got '${value}'`);
      flags[name] = negated ? false : value !== "false";
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      if (value.startsWith("--"))
        throw new Error(`--${name} needs a value, got the flag ${value} (write --${name}=${value} if that really is the value)`);
    }
    // --data KIND PATH: the path may follow as a separate word
    if (name === "data" && !value.includes("=") && value !== "synthetic" && argv[i + 1] && !argv[i + 1].startsWith("--"))
      value = `${value}=${argv[++i]}`;
    if (def.kind === "number" || def.kind === "int") {
      const n = Number(value);
      if (!Number.isFinite(n) || (def.kind === "int" && !Number.isInteger(n)))
        throw new Error(`--${name} must be ${def.kind === "int" ? "an integer" : "a number"}, got '${value}'`);
      flags[name] = n;
    } else {
      if (def.choices && !def.choices.includes(value))
        throw new Error(`--${name} must be one of ${def.choices.join(", ")}, got '${value}'`);
      flags[name] = value;
    }
  }
  return { command, flags, positional };
}

export function helpText(): string {
  const groups = [...new Set(FLAGS.map((f) => f.group))];
  const lines = [
    "cllm4rec: CLLM4Rec (frozen GPT-2 + user/item tokens) on a hand-written tensor engine",
    "",
    "usage:",
    "  node dist/train.js [train] [flags]           train (default: synthetic data, pretrained default backbone, quick preset)",
    "  node dist/train.js evaluate --out DIR [--test-exclude train|train+val]   re-score a saved run (default: its own protocol)",
    "  node dist/train.js recommend --out DIR --users ID[,ID...] [--top M]   top-M items (original ids) as JSON",
    "  node dist/train.js export --out DIR [--to FILE]   user/item embeddings as safetensors + id maps",
    "  node dist/train.js generate --model DIR --prompt TEXT   greedy continuation: is this GPT-2 sane?",
    "  node dist/train.js serve --out DIR [--port N] [--host H]   HTTP JSON service: /recommend, /healthz, /metrics",
    "  node dist/train.js pretrain --out DIR [--data ...] [--text FILE] [--layers N --d N --heads N --max-steps N]",
    "                                               train a GPT-2 from scratch on text; DIR becomes a --model folder",
    "",
    "examples:",
    "  node dist/train.js --data movielens ../shared/data/ml-100k --out runs/ml100k",
    "  node dist/train.js --data amazon reviews_Beauty_5.json.gz --model ~/models/gpt2 --device cuda --preset paper",
    "  node dist/train.js --data generic interactions.csv --item-text items.csv --out runs/mine",
  ];
  for (const g of groups) {
    lines.push("", `${g} flags:`);
    for (const f of FLAGS.filter((x) => x.group === g)) {
      const arg = f.kind === "bool" ? "" : f.choices ? ` ${f.choices.join("|")}` : f.kind === "string" ? " VALUE" : " N";
      lines.push(`  --${f.name}${arg}`.padEnd(34) + f.help);
    }
  }
  return lines.join("\n");
}
