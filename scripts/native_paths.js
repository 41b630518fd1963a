// Include directories for native builds without downloads: node_api.h from the
// node-api-headers package or the local Node install, napi.h from node-addon-api.

const fs = require("node:fs");
const path = require("node:path");

function nodeApiInclude() {
  const tried = [];
  try {
    const dir = path.join(path.dirname(require.resolve("node-api-headers/package.json")), "include");
    if (fs.existsSync(path.join(dir, "node_api.h"))) return dir;
    tried.push(dir);
  } catch {
    tried.push("node-api-headers (not installed)");
  }
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  for (const dir of [path.join(prefix, "include", "node"), "/usr/include/node", "/usr/local/include/node"]) {
    if (fs.existsSync(path.join(dir, "node_api.h"))) return dir;
    tried.push(dir);
  }
  throw new Error(`node_api.h not found; looked in: ${tried.join(", ")}`);
}

function addonApiInclude() {
  try {
    return require("node-addon-api").include_dir.replace(/^"|"$/g, "");
  } catch (e) {
    throw new Error(`node-addon-api is not installed (${e.message}); run npm ci first`);
  }
}

module.exports = { nodeApiInclude, addonApiInclude };
