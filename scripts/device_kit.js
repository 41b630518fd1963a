#!/usr/bin/env node
// `npm run device:kit`: packs what scripts/check_device.sh needs into kit/ (git-ignored)
// so it runs on an air-gapped GPU machine without Node.js: an xz-compressed copy of this
// node binary, dist/, dist-test/, the built addons, package.json, scripts/, the runtime
// node_modules (pruned to the files used), the shared libraries the binaries need, and
// kit/run.sh. Fails if the kit would exceed 60 MiB. `--no-build` skips the tsc builds.

const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const root = path.resolve(__dirname, "..");
const kit = path.join(root, "kit");
const LIMIT = 60 * 1024 * 1024;
const cudaAddon = path.join("build-cuda", "Release", "cllm4rec_cuda.node");
const cpuAddon = path.join("build", "Release", "cllm4rec.node");
// Needed to build, not to run: never packed.
const buildOnly = new Set(["node-addon-api", "node-gyp"]);

function fail(msg) {
  console.error(`device:kit: ${msg}`);
  process.exit(1);
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", ...opts });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  return r;
}

// Copies a tree, skipping what `keep(relPath, isDir)` rejects.
function copyTree(src, dst, keep = () => true, rel = "") {
  const st = fs.statSync(src);
  if (st.isDirectory()) {
    fs.mkdirSync(dst, { recursive: true });
    for (const e of fs.readdirSync(src)) {
      const r = rel ? `${rel}/${e}` : e;
      const s = path.join(src, e);
      if (!keep(r, fs.statSync(s).isDirectory())) continue;
      copyTree(s, path.join(dst, e), keep, r);
    }
  } else {
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.copyFileSync(src, dst);
    fs.chmodSync(dst, st.mode);
  }
}

function treeBytes(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((s, e) => s + treeBytes(path.join(p, e)), 0);
}

// Runtime packages: package.json dependencies minus build-only ones, plus the bench's
// tinybench, plus their deps.
function runtimePackages() {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  // tinybench is a devDependency, but the check runs the benchmarks with it
  const todo = [...Object.keys(pkg.dependencies || {}).filter((n) => !buildOnly.has(n)), "tinybench"];
  const seen = new Set();
  while (todo.length) {
    const name = todo.pop();
    if (seen.has(name)) continue;
    const pj = path.join(root, "node_modules", name, "package.json");
    if (!fs.existsSync(pj)) fail(`runtime dependency ${name} is not installed (run npm ci)`);
    seen.add(name);
    todo.push(...Object.keys(JSON.parse(fs.readFileSync(pj, "utf8")).dependencies || {}));
  }
  return [...seen].sort();
}

// Per-package pruning: gpt-tokenizer ships every OpenAI encoding in four builds; the
// project loads only the CommonJS r50k_base (GPT-2) one.
function packageFilter(name) {
  const common = (r) => !/\.(map|d\.ts|md)$/.test(r);
  if (name === "gpt-tokenizer")
    return (r, isDir) => {
      if (!common(r)) return false;
      if (!r.includes("/")) return isDir ? r === "cjs" : true;
      if (r.startsWith("cjs/bpeRanks/") || r.startsWith("cjs/encoding/")) return isDir || /\/r50k_base\.js$/.test(r);
      return !r.startsWith("cjs/model/");
    };
  return common;
}

// Shared libraries outside glibc that the node binary and the addons link against.
function sharedLibs(binaries) {
  const libs = new Map();
  for (const b of binaries) {
    const r = sh("ldd", [b]);
    for (const line of (r.stdout || "").split("\n")) {
      const m = line.match(/^\s*(\S+) => (\/\S+)/);
      if (m && /^lib(stdc\+\+|gomp|gcc_s)\.so/.test(m[1])) libs.set(m[1], m[2]);
    }
  }
  return libs;
}

const noBuild = process.argv.includes("--no-build");
if (!noBuild) {
  for (const cfg of ["tsconfig.json", "tsconfig.test.json"]) {
    console.log(`device:kit: tsc -p ${cfg}`);
    const r = sh(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", cfg]);
    if (r.status !== 0)
      console.warn(`device:kit: warning: tsc -p ${cfg} reported errors (output still emitted):\n${(r.stdout || "").slice(0, 2000)}`);
  }
}
for (const d of ["dist", "dist-test"])
  if (!fs.existsSync(path.join(root, d))) fail(`${d}/ is missing: run npm run build && npm run build:test`);
const haveCuda = fs.existsSync(path.join(root, cudaAddon));
if (!haveCuda) console.warn(`device:kit: warning: ${cudaAddon} is missing (run npm run build:native); the kit will have no CUDA addon`);

fs.rmSync(kit, { recursive: true, force: true });
fs.mkdirSync(kit);

console.log(`device:kit: compressing ${process.execPath} (${process.version}) with xz`);
const xz = spawnSync("sh", ["-c", `xz -T2 -9 -c "${process.execPath}" > "${path.join(kit, "node.xz")}"`], { stdio: "inherit" });
if (xz.status !== 0) fail("xz failed (is xz installed?)");

copyTree(path.join(root, "dist"), path.join(kit, "dist"), (r) => !r.endsWith(".map"));
copyTree(path.join(root, "dist-test"), path.join(kit, "dist-test"), (r) => !r.endsWith(".map"));
copyTree(path.join(root, "scripts"), path.join(kit, "scripts"));
copyTree(path.join(root, "package.json"), path.join(kit, "package.json"));
for (const a of [cudaAddon, cpuAddon]) if (fs.existsSync(path.join(root, a))) copyTree(path.join(root, a), path.join(kit, a));
fs.mkdirSync(path.join(kit, "bench", "results"), { recursive: true });
// the PyTorch peer the benchmarks run beside ours (bench/reference.ts looks for it under the root)
const peer = path.join("bench", "reference", "torch_bench.py");
copyTree(path.join(root, peer), path.join(kit, peer));
const commit = sh("git", ["rev-parse", "HEAD"]).stdout.trim();
const dirty = sh("git", ["status", "--porcelain", "--untracked-files=no"]).stdout.trim() ? "+dirty" : "";
fs.writeFileSync(path.join(kit, "COMMIT"), `${commit}${dirty}\n`);

const pkgs = runtimePackages();
for (const name of pkgs) copyTree(path.join(root, "node_modules", name), path.join(kit, "node_modules", name), packageFilter(name));

const binaries = [process.execPath, ...[cudaAddon, cpuAddon].map((a) => path.join(root, a)).filter(fs.existsSync)];
const libs = sharedLibs(binaries);
for (const [name, file] of libs) copyTree(file, path.join(kit, "lib", name));

fs.writeFileSync(
  path.join(kit, "run.sh"),
  `#!/usr/bin/env bash
# Runs the CLLM4Rec device check from this kit (no network, no installed Node.js needed).
# Results go to \${OUT:-./out}, resolved against the directory this is started from.
set -u
KIT="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
OUT="\${OUT:-out}"
mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)"
NODE_DIR=/tmp/cllm4rec-kit-node
if [ ! -x "$NODE_DIR/node" ]; then
  mkdir -p "$NODE_DIR"
  if command -v xz >/dev/null 2>&1; then xz -dc "$KIT/node.xz" > "$NODE_DIR/node.part"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$KIT/node.xz" "$NODE_DIR/node.part"
  fi || { echo "run.sh: could not unpack node (needs xz or python3)"; exit 1; }
  chmod +x "$NODE_DIR/node.part" && mv "$NODE_DIR/node.part" "$NODE_DIR/node"
fi
export PATH="$NODE_DIR:$PATH"
# The system's C++/OpenMP runtimes are used when they work; the kit's copies otherwise.
if ! node -e "require('$KIT/${haveCuda ? cudaAddon : cpuAddon}')" >/dev/null 2>&1; then
  export LD_LIBRARY_PATH="$KIT/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "run.sh: using the kit's libraries from $KIT/lib"
fi
echo "which node: $(command -v node) ($(node --version 2>&1))"
echo "which nvidia-smi: $(command -v nvidia-smi || echo none)"
OUT="$OUT" bash "$KIT/scripts/check_device.sh"
`,
  { mode: 0o755 },
);

const total = treeBytes(kit);
const mib = (b) => (b / 1024 / 1024).toFixed(1);
console.log(
  `device:kit: node.xz ${mib(fs.statSync(path.join(kit, "node.xz")).size)} MiB, ` +
    `node_modules (${pkgs.join(", ")}) ${mib(treeBytes(path.join(kit, "node_modules")))} MiB, ` +
    `libs (${[...libs.keys()].join(", ")}) ${mib(treeBytes(path.join(kit, "lib")))} MiB, ` +
    `CUDA addon ${haveCuda ? "included" : "MISSING"}`,
);
console.log(`device:kit: total ${mib(total)} MiB in ${kit}`);
if (total > LIMIT) fail(`the kit is ${mib(total)} MiB, over the ${mib(LIMIT)} MiB limit`);
// what check_device.sh runs: a kit without one of these would pass its dry run yet measure less
const needed = ["run.sh", "scripts/check_device.sh", "scripts/train_devices.js", "dist-test/bench/run.js", peer];
const missing = needed.filter((f) => !fs.existsSync(path.join(kit, f)));
if (missing.length) fail(`the kit lacks ${missing.join(", ")}`);
console.log("device:kit: on the GPU machine (copy kit/ there, or carry it), run:\n" + "  OUT=/path/to/results bash kit/run.sh");
