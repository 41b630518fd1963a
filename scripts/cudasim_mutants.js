#!/usr/bin/env node
// `npm run test:cuda-sim:mutants`: proves the simulator can fail. Each mutant is a
// classic kernel bug applied to a copy of native/cuda; the simulator addon is rebuilt
// from the copy and the test/cuda files that cover the kernel run against it. Every
// mutant must make them fail; this exits 1 if one survives (or no longer applies).
//   node scripts/cudasim_mutants.js [name-substring]

const fs = require("node:fs");
const path = require("node:path");
const { build } = require("./build_cudasim");
const { runSuite } = require("./test_cuda_sim");

const root = path.resolve(__dirname, "..");

// find: exact text in `file`; nth: which occurrence (0 = first); tests: test/cuda files.
const MUTANTS = [
  {
    name: "gemm-no-sync-after-load",
    file: "gemm.cu",
    find: "    __syncthreads();\n",
    nth: 0,
    replace: "",
    why: "dropped __syncthreads after the GEMM tile load (reads tiles before they are written)",
    tests: ["gemm"],
  },
  {
    name: "gemm-no-sync-after-compute",
    file: "gemm.cu",
    find: "    __syncthreads();\n",
    nth: 1,
    replace: "",
    why: "dropped __syncthreads after the GEMM compute (the next tile overwrites one still in use)",
    tests: ["gemm"],
  },
  {
    name: "gemm-tc-fragment-swap",
    file: "gemm.cu",
    find: "(lane & 7) + (q & 1) * 8) * kTcPitchK +",
    replace: "(lane & 7) + (q >> 1) * 8) * kTcPitchK +",
    why: "v3 A fragment from the wrong ldmatrix matrices (a1/a2 swapped: rows +8 and k +4 exchanged)",
    tests: ["gemm_versions"],
  },
  {
    name: "gemm-tc-scalar-b-transposed",
    file: "gemm.cu",
    find: "bs[(kk + tig) * kTcPitchBN + c0 + j * 8 + gid]",
    replace: "bs[(kk + gid % 4) * kTcPitchBN + c0 + j * 8 + tig * 2]",
    why: "v3 B fragment of a [k][n] tile read with group and thread-in-group mixed up",
    tests: ["gemm_versions"],
  },
  {
    name: "gemm-tc-early-read",
    file: "gemm.cu",
    find: "mma::cp_async_wait<kTcStages - 2>();",
    replace: "mma::cp_async_wait<kTcStages - 1>();",
    why: "v3 waits for one cp.async group too few: the stage is read before its copy landed",
    tests: ["gemm_versions"],
  },
  {
    name: "gemm-bf16-a-fragment-swap",
    file: "gemm.cu",
    find: "const int rr = r + (i & 1) * 8, k = kk + tig * 2 + (i >> 1) * 8;",
    replace: "const int rr = r + (i >> 1) * 8, k = kk + tig * 2 + (i & 1) * 8;",
    why: "BF16 A fragment registers 1 and 2 exchanged (rows +8 and k +8 swapped)",
    tests: ["gemm_bf16_b"],
  },
  {
    name: "gemm-bf16-b-no-trans",
    file: "gemm.cu",
    find: "mma::ldmatrix<4, true>(r, bs",
    replace: "mma::ldmatrix<4, false>(r, bs",
    why: "BF16 B fragment of a [k][n] tile loaded by ldmatrix without .trans",
    tests: ["gemm_bf16_b"],
  },
  {
    name: "attention-no-syncwarp",
    file: "attention.cu",
    find: "    ps[warp][lane] = j <= last ? e * drop_mask(drop, (b * H + h) * Tq + i, Tk, j) : e;\n    __syncwarp();\n",
    replace: "    ps[warp][lane] = j <= last ? e * drop_mask(drop, (b * H + h) * Tq + i, Tk, j) : e;\n",
    why: "dropped __syncwarp after the attention forward writes ps (lanes read weights not yet written)",
    tests: ["attention"],
  },
  {
    name: "scatter-add-no-barrier",
    file: "embedding.cu",
    find: "      __syncthreads();\n",
    nth: 0,
    replace: "",
    why: "dropped barrier in scatter-add (ballot masks read before they are written)",
    tests: ["embedding"],
  },
  {
    name: "layernorm-missing-lanes",
    file: "layernorm.cu",
    find: "<<<blocks, 32 * kRowsPerBlock, 0, detail::stream()>>>",
    nth: 0,
    replace: "<<<blocks, 32 * kRowsPerBlock - 12, 0, detail::stream()>>>",
    why: "244-thread LayerNorm block: the last warp's full-mask shuffles name lanes that do not exist",
    tests: ["layernorm"],
  },
  {
    name: "layernorm-lane-stride",
    file: "layernorm.cu",
    find: "for (int64_t i = lane; i < D; i += 32) s += xr[i];",
    replace: "for (int64_t i = lane; i < D; i += 16) s += xr[i];",
    why: "wrong lane stride in the LayerNorm mean (elements counted twice)",
    tests: ["layernorm"],
  },
  {
    name: "attention-backward-no-causal-bound",
    file: "attention.cu",
    find: "const int64_t i0 = imax(0, j - (Tk - Tq));",
    replace: "const int64_t i0 = 0;",
    why: "removed causal bound in the attention backward (queries that cannot see key j add to dk/dv)",
    tests: ["attention"],
  },
  {
    name: "flash-fragment-rows-swapped",
    file: "attention_flash.cuh",
    find: "  a[1] = pack_bf16(c[2 * kk][2], c[2 * kk][3]);\n  a[2] = pack_bf16(c[2 * kk + 1][0], c[2 * kk + 1][1]);\n",
    replace: "  a[1] = pack_bf16(c[2 * kk + 1][0], c[2 * kk + 1][1]);\n  a[2] = pack_bf16(c[2 * kk][2], c[2 * kk][3]);\n",
    why: "flash attention: the C -> A fragment mapping of P/dS swaps registers 1 and 2 (rows 8-15 and columns 8-15)",
    tests: ["attention_flash"],
  },
  {
    name: "flash-b-fragment-k-offset",
    file: "attention_flash.cuh",
    find: "  b[1] = pack_bf16(r[8], r[9]);\n",
    replace: "  b[1] = pack_bf16(r[0], r[1]);\n",
    why: "flash attention: the second B register of K/Q/dO rows reads k 0-1 again instead of k 8-9",
    tests: ["attention_flash"],
  },
  {
    name: "flash-no-cp-async-wait",
    file: "attention_flash.cuh",
    find: "      mma::cp_async_wait<1>();\n",
    nth: 0,
    replace: "",
    why: "flash attention forward: no cp.async wait before the tile is read (K/V not landed yet)",
    tests: ["attention_flash"],
  },
  {
    name: "flash-dkv-causal-bound",
    file: "attention_flash.cuh",
    find: "const bool causal = l != -INFINITY && j < Tk && j <= Tk - Tq + i;",
    replace: "const bool causal = l != -INFINITY && j < Tk;",
    why: "flash attention backward: queries that cannot see key j add to its dk/dv",
    tests: ["attention_flash"],
  },
  {
    name: "sum-per-thread-early-return",
    file: "reduce.cu",
    find: "  double acc = 0.0;\n",
    nth: 0,
    replace: "  if (blockIdx.x * int64_t(blockDim.x) + threadIdx.x >= n) return;\n  double acc = 0.0;\n",
    why: "per-thread early return before the block reduction (exited threads at __syncthreads)",
    tests: ["reduce"],
  },
  {
    name: "gemm-no-column-bound",
    file: "gemm.cu",
    find: "      if (n >= N) continue;\n",
    replace: "",
    why: "dropped bounds check in the GEMM epilogue (writes past each row and past the buffer)",
    tests: ["gemm"],
  },
  {
    name: "add-off-by-one",
    file: "elementwise.cu",
    find: "  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;\n",
    nth: 0,
    replace: "  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i <= n;\n",
    why: "off-by-one loop bound in add (reads and writes one element past the end)",
    tests: ["elementwise"],
  },
  {
    name: "gemm-gelu-epilogue-before-bias",
    file: "gemm.cu",
    find: "          if (G) G[m * N + n] = detail::gelu_tanh(v);\n",
    nth: 0,
    replace: "          if (G) G[m * N + n] = detail::gelu_tanh(alpha * acc[mi][ni][h * 2 + j]);\n",
    why: "v3's GELU epilogue takes the product before the bias is added",
    tests: ["gemm_gelu"],
  },
  {
    name: "gemm-gelu-split-reduce-no-gelu",
    file: "gemm.cu",
    find: "  if (G) G[i] = detail::gelu_tanh(v);\n",
    replace: "  if (G) G[i] = v;\n",
    why: "the split-K reduction stores the pre-activation as the GELU output",
    tests: ["gemm_gelu"],
  },
  {
    name: "adam-halt-ignored",
    file: "adam.cu",
    find: "  if (halt && *halt != 0) return;",
    replace: "",
    why: "Adam's kernel ignores the non-finite flag (the steps up to the loss read apply NaN)",
    tests: ["adam", "train_step"],
  },
  {
    name: "flag-nonfinite-nan-only",
    file: "adam.cu",
    find: "bad = bad || (u & 0x7f800000u) == 0x7f800000u;",
    replace: "bad = bad || u == 0x7fc00000u;",
    why: "the non-finite guard sees only the canonical NaN (misses Inf and other NaNs)",
    tests: ["adam", "train_step"],
  },
];

function apply(m, dir) {
  const file = path.join(dir, m.file);
  if (!fs.existsSync(file)) return `native/cuda/${m.file} no longer exists`;
  const text = fs.readFileSync(file, "utf8");
  let at = -1;
  for (let k = 0; k <= (m.nth || 0); k++) {
    at = text.indexOf(m.find, at + 1);
    if (at < 0) return `occurrence ${m.nth || 0} of ${JSON.stringify(m.find)} not found in native/cuda/${m.file}`;
  }
  fs.writeFileSync(file, text.slice(0, at) + m.replace + text.slice(at + m.find.length));
  return null;
}

async function main() {
  const filter = process.argv[2] || "";
  const testDir = path.join(root, "dist-test", "test", "cuda");
  const all = fs.existsSync(testDir) ? fs.readdirSync(testDir).filter((f) => f.endsWith(".test.js")) : [];
  const results = [];
  const t0 = Date.now();
  for (const m of MUTANTS.filter((x) => x.name.includes(filter))) {
    const dir = path.join(root, "build_cudasim", "mutants", m.name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.cpSync(path.join(root, "native", "cuda"), path.join(dir, "cuda"), { recursive: true });
    const problem = apply(m, path.join(dir, "cuda"));
    if (problem) {
      results.push({ ...m, caught: false, how: `mutant does not apply: ${problem}` });
      console.log(`NOT APPLIED ${m.name}: ${problem}`);
      continue;
    }
    const files = all.filter((f) => m.tests.some((t) => f.startsWith(t))).map((f) => path.join(testDir, f));
    if (files.length === 0) {
      results.push({ ...m, caught: false, how: `no test file matches ${m.tests.join(", ")}` });
      continue;
    }
    const addon = await build({ cudaDir: path.join(dir, "cuda"), out: path.join(dir, "cllm4rec_cudasim.node"), quiet: true });
    const r = runSuite(addon, { files, quiet: true, timeoutMs: 300000 });
    const caught = r.status !== 0 || r.fail > 0;
    const firstError = (/(?:error|Error): ['"|]?-?\s*(.*)/.exec(r.output) || [undefined, ""])[1].slice(0, 160);
    const how = r.signal ? `killed (${r.signal})` : `${r.fail} of ${r.pass + r.fail} tests failed` + (firstError ? `: ${firstError}` : "");
    results.push({ ...m, caught, how, seconds: r.seconds });
    console.log(`${caught ? "caught  " : "SURVIVED"} ${m.name} (${r.seconds.toFixed(1)} s): ${how}`);
  }
  const survived = results.filter((r) => !r.caught);
  console.log(
    `\ncudasim mutants: ${results.length - survived.length} of ${results.length} caught in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
  for (const r of survived) console.log(`  not caught: ${r.name}: ${r.how}`);
  process.exit(survived.length === 0 && results.length > 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
