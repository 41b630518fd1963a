#!/usr/bin/env node
// Builds the simulator addon: native/cuda/*.cu{,h} go through a small preprocessing step
// (kernel launches `K<<<g, b, smem, s>>>(args)` become cudasim::launch calls, `__shared__`
// declarations become per-block shared-memory references), then compile as plain C++
// against native/cudasim's fake <cuda_runtime.h>, together with native/addon and
// native/cpu, into one .node module. Objects are cached by content hash.
//   node scripts/build_cudasim.js [--asan] [--cuda-dir DIR] [--out FILE] [--quiet]
//   node scripts/build_cudasim.js --selftest   (also builds the C++ self-test binary)

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const crypto = require("node:crypto");
const { spawn } = require("node:child_process");
const { nodeApiInclude, addonApiInclude } = require("./native_paths");

const root = path.resolve(__dirname, "..");

function parseArgs(argv) {
  const o = { asan: false, cudaDir: path.join(root, "native", "cuda"), out: null, quiet: false, selftest: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--asan") o.asan = true;
    else if (a === "--quiet") o.quiet = true;
    else if (a === "--selftest") o.selftest = true;
    else if (a === "--cuda-dir") o.cudaDir = path.resolve(argv[++i]);
    else if (a === "--out") o.out = path.resolve(argv[++i]);
    else throw new Error(`build-cudasim: unknown argument ${a}`);
  }
  return o;
}

// Same length as src with comments and string/char literals blanked, so the rewrites
// below only ever match code.
function maskCode(src) {
  const out = src.split("");
  let i = 0;
  const n = src.length;
  const blank = (a, b) => {
    for (let k = a; k < b; k++) if (out[k] !== "\n") out[k] = " ";
  };
  while (i < n) {
    const c = src[i],
      d = src[i + 1];
    if (c === "/" && d === "/") {
      const e = src.indexOf("\n", i);
      const end = e < 0 ? n : e;
      blank(i, end);
      i = end;
    } else if (c === "/" && d === "*") {
      const e = src.indexOf("*/", i + 2);
      const end = e < 0 ? n : e + 2;
      blank(i, end);
      i = end;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && src[j] !== c) j += src[j] === "\\" ? 2 : 1;
      blank(i + 1, j);
      i = j + 1;
    } else i++;
  }
  return out.join("");
}

// Index just past the bracket matching the one at `open` (in masked code).
function matchForward(m, open, oc, cc) {
  let depth = 0;
  for (let i = open; i < m.length; i++) {
    if (m[i] === oc) depth++;
    else if (m[i] === cc && --depth === 0) return i + 1;
  }
  return -1;
}

function lineOf(src, idx) {
  return src.slice(0, idx).split("\n").length;
}

// K<<<cfg>>>(args) -> ::cudasim::launch("K", K, ::cudasim::cfg(cfg), args)
function rewriteLaunches(src, file) {
  let m = maskCode(src);
  for (;;) {
    const at = m.indexOf("<<<");
    if (at < 0) return src;
    // the kernel expression: an identifier path, optionally with template arguments
    let s = at;
    while (s > 0 && /\s/.test(m[s - 1])) s--;
    const end = s;
    if (m[s - 1] === ">") {
      let depth = 0;
      for (s = s - 1; s >= 0; s--) {
        if (m[s] === ">") depth++;
        else if (m[s] === "<" && --depth === 0) break;
      }
    }
    while (s > 0 && /[\w:]/.test(m[s - 1])) s--;
    const kernel = src.slice(s, end).trim();
    const close = m.indexOf(">>>", at);
    const paren = close < 0 ? -1 : m.indexOf("(", close);
    if (!kernel || close < 0 || paren < 0 || m.slice(close + 3, paren).trim() !== "")
      throw new Error(`build-cudasim: ${file}:${lineOf(src, at)}: cannot parse the kernel launch`);
    const stop = matchForward(m, paren, "(", ")");
    if (stop < 0) throw new Error(`build-cudasim: ${file}:${lineOf(src, at)}: unbalanced launch arguments`);
    const cfg = src.slice(at + 3, close);
    const args = src.slice(paren + 1, stop - 1);
    const rep =
      `::cudasim::launch(${JSON.stringify(kernel.replace(/\s+/g, " "))}, ${kernel}, ` +
      `::cudasim::cfg(${cfg})${src.slice(close + 3, paren)}${args.trim() ? ", " : ""}${args})`;
    src = src.slice(0, s) + rep + src.slice(stop);
    m = maskCode(src);
  }
}

// Top-level comma split (outside (), [], <>, {}).
function splitTop(text) {
  const parts = [];
  let depth = 0,
    last = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ("([{<".includes(c)) depth++;
    else if (")]}>".includes(c)) depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(last, i));
      last = i + 1;
    }
  }
  parts.push(text.slice(last));
  return parts;
}

// __shared__ T a[..][..], b[..];  ->  T (&a)[..][..] = ::cudasim::shared<T[..][..]>(); ...
// extern __shared__ T d[];        ->  T* d = static_cast<T*>(::cudasim::dynamic_shared());
function rewriteShared(src, file) {
  let m = maskCode(src);
  for (;;) {
    const at = m.search(/\b__shared__\b/);
    if (at < 0) return src;
    let start = at;
    const before = m.slice(0, at);
    const ext = /\bextern\s+$/.exec(before);
    if (ext) start = at - ext[0].length;
    const semi = m.indexOf(";", at);
    if (semi < 0) throw new Error(`build-cudasim: ${file}:${lineOf(src, at)}: __shared__ without ';'`);
    const decl = src.slice(at + "__shared__".length, semi).replace(/__align__\s*\([^)]*\)/g, " ");
    const parts = splitTop(decl);
    const first = /^([\s\S]*?)\b([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)$/.exec(parts[0].trim());
    if (!first?.[1].trim()) throw new Error(`build-cudasim: ${file}:${lineOf(src, at)}: cannot parse the __shared__ declaration`);
    const type = first[1].trim();
    const out = [];
    for (let k = 0; k < parts.length; k++) {
      const d = k === 0 ? first : /^\s*([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)$/.exec(parts[k]);
      if (!d) throw new Error(`build-cudasim: ${file}:${lineOf(src, at)}: cannot parse declarator '${parts[k]}'`);
      const name = k === 0 ? d[2] : d[1];
      const dims = (k === 0 ? d[3] : d[2]).replace(/\s+/g, "");
      if (ext) {
        out.push(`${type}* ${name} = static_cast<${type}*>(::cudasim::dynamic_shared())`);
      } else if (dims) {
        out.push(`${type} (&${name})${dims} = ::cudasim::shared<${type}${dims}>()`);
      } else {
        out.push(`${type}& ${name} = ::cudasim::shared<${type}>()`);
      }
    }
    const newlines = src.slice(start, semi).split("\n").length - 1;
    src = src.slice(0, start) + out.join("; ") + "\n".repeat(newlines) + src.slice(semi);
    m = maskCode(src);
  }
}

function preprocess(srcText, file) {
  return `#line 1 ${JSON.stringify(file)}\n` + rewriteShared(rewriteLaunches(srcText, file), file);
}

function sh(cmd, args) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (code) => resolve({ code, out }));
    p.on("error", (e) => resolve({ code: -1, out: String(e) }));
  });
}

async function pool(tasks, jobs) {
  const results = [];
  let next = 0;
  async function worker() {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  return results;
}

function hashFiles(files) {
  const h = crypto.createHash("sha1");
  for (const f of files.sort()) h.update(f).update(fs.readFileSync(f));
  return h;
}

function listDir(dir, re) {
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => re.test(f))
        .sort()
        .map((f) => path.join(dir, f))
    : [];
}

async function build(opts) {
  const t0 = Date.now();
  const log = (s) => {
    if (!opts.quiet) console.log(s);
  };
  const cxx = process.env.CXX || "g++";
  const tag = opts.asan ? "asan" : "release";
  const buildDir = path.join(root, "build_cudasim", tag);
  const out = opts.out || path.join(buildDir, "cllm4rec_cudasim.node");
  const objDir = path.join(root, "build_cudasim", "obj-" + tag);
  const genDir = path.join(path.dirname(out), "gen-" + crypto.createHash("sha1").update(opts.cudaDir).digest("hex").slice(0, 8));
  fs.mkdirSync(objDir, { recursive: true });
  fs.rmSync(genDir, { recursive: true, force: true });
  fs.mkdirSync(genDir, { recursive: true });

  // 1. Preprocess every CUDA source and header into genDir.
  const cudaFiles = listDir(opts.cudaDir, /\.(cu|cuh)$/);
  if (!cudaFiles.some((f) => f.endsWith(".cu"))) throw new Error(`build-cudasim: no .cu files in ${opts.cudaDir}`);
  for (const f of cudaFiles) {
    // #line names the tracked source, also for a mutated copy (same objects, same messages)
    const rel = path.join("native", "cuda", path.basename(f));
    fs.writeFileSync(path.join(genDir, path.basename(f)), preprocess(fs.readFileSync(f, "utf8"), rel));
  }

  // 2. Compile: generated CUDA sources, the simulator, the addon and the CPU kernels.
  const sim = path.join(root, "native", "cudasim");
  const inc = [genDir, sim, path.join(root, "native", "include"), nodeApiInclude(), addonApiInclude()];
  const flags = [
    "-std=c++17",
    "-fPIC",
    "-fopenmp",
    "-fexceptions",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-DNAPI_VERSION=8",
    "-DNAPI_CPP_EXCEPTIONS",
    "-DCLLM4REC_CUDA",
    "-DCLLM4REC_CUDASIM",
    ...(opts.asan ? ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"] : ["-O2"]),
    ...inc.map((d) => `-I${d}`),
  ];
  const headers = [
    ...listDir(genDir, /\.cuh$/),
    ...listDir(sim, /\.h$/),
    ...listDir(path.join(root, "native", "include"), /\.h$/),
    ...listDir(path.join(root, "native", "addon"), /\.h$/),
    ...listDir(path.join(root, "native", "cpu"), /\.h$/),
  ];
  const headerHash = hashFiles(headers).update(cxx).update(flags.join(" ").replace(genDir, "GEN")).digest("hex");
  const sources = [
    ...listDir(genDir, /\.cu$/).map((f) => ({ f, lang: "c++" })),
    { f: path.join(sim, "sim.cc"), lang: "c++" },
    ...listDir(path.join(root, "native", "addon"), /\.cc$/).map((f) => ({ f, lang: "c++" })),
    ...listDir(path.join(root, "native", "cpu"), /\.cc$/).map((f) => ({ f, lang: "c++" })),
  ];
  const jobs = Number(process.env.CLLM4REC_BUILD_JOBS || Math.min(2, os.cpus().length));
  let compiled = 0;
  const objects = await pool(
    sources.map(({ f, lang }) => async () => {
      const key = crypto.createHash("sha1").update(headerHash).update(fs.readFileSync(f)).digest("hex").slice(0, 16);
      const obj = path.join(objDir, `${path.basename(f)}.${key}.o`);
      if (fs.existsSync(obj)) return obj;
      const r = await sh(cxx, [...flags, "-x", lang, "-c", f, "-o", obj + ".tmp"]);
      if (r.code !== 0) throw new Error(`build-cudasim: compiling ${path.relative(root, f)} failed:\n${r.out}`);
      fs.renameSync(obj + ".tmp", obj);
      compiled++;
      log(`cudasim: compiled ${path.relative(root, f)}`);
      return obj;
    }),
    jobs,
  );

  // 3. Link.
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const link = await sh(cxx, ["-shared", "-fopenmp", ...(opts.asan ? ["-fsanitize=address,undefined"] : []), "-o", out, ...objects]);
  if (link.code !== 0) throw new Error(`build-cudasim: linking failed:\n${link.out}`);
  log(
    `cudasim: built ${path.relative(root, out)} (${compiled} of ${objects.length} objects compiled, ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );

  if (opts.selftest) {
    const exe = path.join(buildDir, "cudasim-selftest");
    const st = path.join(sim, "selftest.cu");
    const gen = path.join(genDir, "selftest.cu");
    fs.writeFileSync(gen, preprocess(fs.readFileSync(st, "utf8"), path.relative(root, st)));
    const runtimeObj = objects.find((o) => path.basename(o).startsWith("runtime.cu."));
    const simObj = objects.find((o) => path.basename(o).startsWith("sim.cc."));
    const r = await sh(cxx, [...flags.filter((f) => f !== "-fPIC"), "-x", "c++", gen, "-x", "none", runtimeObj, simObj, "-o", exe]);
    if (r.code !== 0) throw new Error(`build-cudasim: compiling the self-test failed:\n${r.out}`);
    log(`cudasim: built ${path.relative(root, exe)}`);
  }
  return out;
}

module.exports = { build, preprocess, parseArgs };

if (require.main === module) {
  build(parseArgs(process.argv.slice(2))).catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
