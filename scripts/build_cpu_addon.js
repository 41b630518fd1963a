#!/usr/bin/env node
// `npm ci` install step: builds the CPU addon with node-gyp against this Node's own
// headers when they are installed next to it, so no header download is needed.

const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const prefix = path.resolve(process.execPath, "..", "..");
const args = ["rebuild", "-j", "2"];
for (const dir of [prefix, "/usr", "/usr/local"]) {
  if (fs.existsSync(path.join(dir, "include", "node", "node_api.h"))) {
    args.push(`--nodedir=${dir}`);
    break;
  }
}
const gyp = require.resolve("node-gyp/bin/node-gyp.js");
console.log(`cllm4rec: building the CPU addon (node-gyp ${args.join(" ")})`);
const r = spawnSync(process.execPath, [gyp, ...args], { stdio: "inherit" });
if (r.status !== 0) {
  console.error("cllm4rec: building the CPU addon failed (needs python3, make and g++; see README)");
  process.exit(r.status === null ? 1 : r.status);
}
