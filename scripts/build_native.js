#!/usr/bin/env node
// `npm run build:native`: configures and builds build-cuda/Release/cllm4rec_cuda.node
// with plain cmake (no cmake-js, so no Node headers are downloaded: the Node-API
// headers come from node-api-headers or the local Node install). CUDA is compiled in
// when nvcc is found; otherwise the same addon is built CPU-only, and this says so.

const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const paths = require("./native_paths");

const root = path.resolve(__dirname, "..");
const buildDir = path.join(root, "build-cuda");
const output = path.join(buildDir, "Release", "cllm4rec_cuda.node");
const jobs = process.env.CLLM4REC_BUILD_JOBS || "2";

function fail(msg) {
  console.error(`build:native: ${msg}`);
  process.exit(1);
}

function nodeApiInclude() {
  try {
    return paths.nodeApiInclude();
  } catch (e) {
    fail(e.message);
  }
}

function addonApiInclude() {
  try {
    return paths.addonApiInclude();
  } catch (e) {
    fail(e.message);
  }
}

// nvcc on PATH, from CUDACXX, or in the default toolkit location.
function findNvcc() {
  if (process.env.CUDACXX && fs.existsSync(process.env.CUDACXX)) return process.env.CUDACXX;
  const which = spawnSync("sh", ["-c", "command -v nvcc"], { encoding: "utf8" });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  for (const p of ["/usr/local/cuda/bin/nvcc", "/opt/cuda/bin/nvcc"]) if (fs.existsSync(p)) return p;
  return null;
}

function run(cmd, args) {
  console.log(`$ ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root });
  if (r.error) fail(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} failed with exit code ${r.status}`);
}

const nvcc = findNvcc();
const cpuOnly = process.env.CLLM4REC_CPU_ONLY === "1" || !nvcc;
if (!nvcc) console.log("build:native: nvcc not found: building the addon CPU-only (no CUDA).");
const configure = [
  "-S",
  root,
  "-B",
  buildDir,
  "-DCMAKE_BUILD_TYPE=Release",
  `-DNODE_API_INC=${nodeApiInclude()}`,
  `-DNODE_ADDON_API_INC=${addonApiInclude()}`,
  `-DCLLM4REC_CPU_ONLY=${cpuOnly ? "ON" : "OFF"}`,
];
if (nvcc && !cpuOnly) configure.push(`-DCMAKE_CUDA_COMPILER=${nvcc}`);
run("cmake", configure);
run("cmake", ["--build", buildDir, "--config", "Release", "-j", jobs]);

if (!fs.existsSync(output)) fail(`the build finished but ${output} is missing`);
const cache = fs.readFileSync(path.join(buildDir, "CMakeCache.txt"), "utf8");
const withCuda = /^CLLM4REC_WITH_CUDA:INTERNAL=ON$/m.test(cache);
console.log(`build:native: built ${path.relative(root, output)} (${withCuda ? "with CUDA: sm_80, sm_90" : "CPU-only, no CUDA"})`);

// The kernel resource report (registers, shared memory, spills, tensor-core/async
// instructions per kernel and target) next to the build.
if (withCuda) {
  require("./kernel_resources")
    .report({ nvcc, outFile: path.join(buildDir, "kernel_resources.json") })
    .catch((e) => fail(e.message));
}
