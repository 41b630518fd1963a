#!/usr/bin/env node
// Kernel resource report (run by `npm run build:native` after a CUDA build, or alone):
// per kernel and target (sm_80, sm_90) registers, static shared memory, stack and
// local-memory spills from `ptxas -v`, and which tensor-core / async-copy instructions
// its PTX uses (mma.sync, wmma, wgmma, ldmatrix, cp.async) — and the SASS opcodes of
// them (HMMA, HGMMA, LDSM, LDGSTS, ...) when cuobjdump or nvdisasm is installed. Writes build-cuda/kernel_resources.json.
//   node scripts/kernel_resources.js [--nvcc PATH]

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn, spawnSync } = require("node:child_process");

const root = path.resolve(__dirname, "..");
const ARCHS = ["80", "90"];
// Kernels on the training step's critical path: a spill there is a performance bug,
// so test/native/kernel_resources.test.ts fails when one of them spills.
const HOT = [
  /gemm_kernel/,
  /attention_(forward|backward)/,
  /flash_(forward|backward)/,
  /layernorm_(forward|backward)/,
  /cross_entropy|softmax_xent/,
];
const INSTRUCTIONS = {
  "mma.sync": /\bmma\.sync\b/g,
  wmma: /\bwmma\./g,
  wgmma: /\bwgmma\./g,
  ldmatrix: /\bldmatrix\b/g,
  "cp.async": /\bcp\.async\b/g,
};
// SASS opcodes of the same instructions: HMMA (mma.sync and wmma), HGMMA (wgmma), LDSM
// (ldmatrix), LDGSTS (cp.async), LDGDEPBAR / DEPBAR (its commit / wait group).
const SASS_OPCODES = ["HMMA", "HGMMA", "LDSM", "LDGSTS", "LDGDEPBAR", "DEPBAR"];

function run(cmd, args) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: root });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (code) => resolve({ code, out }));
    p.on("error", (e) => resolve({ code: -1, out: String(e) }));
  });
}

function have(tool) {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).status === 0;
}

function demangle(names) {
  if (names.length === 0) return {};
  const r = spawnSync("c++filt", [], { input: names.join("\n"), encoding: "utf8" });
  const out = r.status === 0 ? r.stdout.split("\n") : names;
  return Object.fromEntries(names.map((n, i) => [n, out[i] || n]));
}

// ptxas -v output -> { mangled: { registers, smem, stack, spillStores, spillLoads } }
function parsePtxas(text) {
  const kernels = {};
  let cur = null;
  for (const line of text.split("\n")) {
    let m = /Compiling entry function '([^']+)'/.exec(line);
    if (m) {
      cur = kernels[m[1]] = { registers: 0, smem: 0, stack: 0, spillStores: 0, spillLoads: 0 };
      continue;
    }
    if (!cur) continue;
    m = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(line);
    if (m) {
      cur.stack = +m[1];
      cur.spillStores = +m[2];
      cur.spillLoads = +m[3];
      continue;
    }
    m = /Used (\d+) registers/.exec(line);
    if (m) {
      cur.registers = +m[1];
      const s = /(\d+) bytes smem/.exec(line);
      cur.smem = s ? +s[1] : 0;
    }
  }
  return kernels;
}

// PTX text -> { mangled: { "mma.sync": n, ... } } (instructions inside each .entry)
function scanPtx(text) {
  const out = {};
  const parts = text.split(/\.entry\s+/).slice(1);
  for (const part of parts) {
    const name = /^([\w$]+)/.exec(part)[1];
    const counts = {};
    for (const [k, re] of Object.entries(INSTRUCTIONS)) {
      const n = (part.match(re) || []).length;
      if (n) counts[k] = n;
    }
    out[name] = counts;
  }
  return out;
}

// `cuobjdump -sass` ("Function : NAME") or `nvdisasm` (".text.NAME:") output ->
// { mangled: { HMMA: n, ... } } (opcodes counted per function, any modifiers).
function scanSass(text) {
  const out = {};
  let cur = null;
  for (const line of text.split("\n")) {
    const fn = /^\s*Function\s*:\s*(\S+)/.exec(line) || /^\s*\.text\.([\w$]+):/.exec(line);
    if (fn) {
      cur = out[fn[1]] = {};
      continue;
    }
    if (!cur) continue;
    const ins = /^\s*\/\*[0-9a-f]+\*\/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)/.exec(line);
    if (ins && SASS_OPCODES.includes(ins[1])) cur[ins[1]] = (cur[ins[1]] || 0) + 1;
  }
  return out;
}

async function report({ nvcc = "nvcc", outFile = path.join(root, "build-cuda", "kernel_resources.json"), quiet = false } = {}) {
  const t0 = Date.now();
  const dir = path.join(path.dirname(outFile), "resources");
  fs.mkdirSync(dir, { recursive: true });
  const sources = fs
    .readdirSync(path.join(root, "native", "cuda"))
    .filter((f) => f.endsWith(".cu"))
    .sort();
  const jobs = Number(process.env.CLLM4REC_BUILD_JOBS || Math.min(2, os.cpus().length));
  const tasks = [];
  for (const f of sources) for (const arch of ARCHS) tasks.push({ f, arch });
  const sass = ["cuobjdump", "nvdisasm"].find(have) || null;
  const results = [];
  let next = 0;
  async function worker() {
    while (next < tasks.length) {
      const { f, arch } = tasks[next++];
      const ptx = path.join(dir, `${path.basename(f, ".cu")}.sm_${arch}.ptx`);
      const c = await run(nvcc, [
        "-std=c++17",
        "-O3",
        "-DCLLM4REC_CUDA",
        `-arch=sm_${arch}`,
        "-Inative/include",
        "-ptx",
        path.join("native", "cuda", f),
        "-o",
        ptx,
      ]);
      if (c.code !== 0) throw new Error(`kernel-resources: nvcc -ptx ${f} (sm_${arch}) failed:\n${c.out}`);
      const cubin = sass ? ptx.replace(/\.ptx$/, ".cubin") : "/dev/null";
      const v = await run("ptxas", ["-v", `-arch=sm_${arch}`, ptx, "-o", cubin]);
      if (v.code !== 0) throw new Error(`kernel-resources: ptxas -v ${f} (sm_${arch}) failed:\n${v.out}`);
      let sassIns = null;
      if (sass) {
        const d = await run(sass, sass === "cuobjdump" ? ["-sass", cubin] : [cubin]);
        if (d.code !== 0) throw new Error(`kernel-resources: ${sass} ${path.relative(root, cubin)} failed:\n${d.out}`);
        sassIns = scanSass(d.out);
      }
      results.push({ f, arch, res: parsePtxas(v.out), ins: scanPtx(fs.readFileSync(ptx, "utf8")), sassIns });
    }
  }
  await Promise.all(Array.from({ length: jobs }, worker));
  const mangled = [...new Set(results.flatMap((r) => Object.keys(r.res)))];
  const names = demangle(mangled);
  const kernels = [];
  for (const r of results.sort((a, b) => a.f.localeCompare(b.f) || a.arch.localeCompare(b.arch)))
    for (const [m, res] of Object.entries(r.res)) {
      const name = names[m].replace(/^void /, "");
      kernels.push({
        kernel: name,
        mangled: m,
        source: `native/cuda/${r.f}`,
        target: `sm_${r.arch}`,
        ...res,
        hot: HOT.some((re) => re.test(name)),
        ptxInstructions: r.ins[m] || {},
        ...(r.sassIns ? { sassInstructions: r.sassIns[m] || {} } : {}),
      });
    }
  const doc = {
    generated: new Date().toISOString(),
    nvcc: spawnSync(nvcc, ["--version"], { encoding: "utf8" }).stdout.trim().split("\n").pop(),
    targets: ARCHS.map((a) => `sm_${a}`),
    hotPatterns: HOT.map(String),
    sass: sass
      ? `sassInstructions from ${sass} (${SASS_OPCODES.join(", ")})`
      : "no cuobjdump/nvdisasm installed: instructions from PTX only",
    kernels,
  };
  fs.writeFileSync(outFile, JSON.stringify(doc, null, 1) + "\n");
  const spills = kernels.filter((k) => k.spillStores + k.spillLoads > 0);
  if (!quiet) {
    console.log(
      `kernel-resources: ${kernels.length} kernel/target pairs in ${path.relative(root, outFile)} (${((Date.now() - t0) / 1000).toFixed(0)} s); ` +
        `max registers ${Math.max(...kernels.map((k) => k.registers))}, ${spills.length} with spills` +
        (spills.length ? `: ${spills.map((k) => `${k.kernel} ${k.target}`).join(", ")}` : ""),
    );
  }
  return doc;
}

module.exports = { report, parsePtxas, scanPtx, scanSass, HOT };

if (require.main === module) {
  const i = process.argv.indexOf("--nvcc");
  report({ nvcc: i > 0 ? process.argv[i + 1] : process.env.CUDACXX || "nvcc" }).catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
