#!/usr/bin/env node
// Runs every compiled node:test file under dist-test/test (optionally filtered by a
// substring given as argument), one `node --test` invocation so results are summed.

const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const root = path.join(__dirname, "..", "dist-test", "test");
const filter = process.argv[2] || "";
const files = [];
// A compiled test whose .ts was renamed or deleted would otherwise keep running stale.
const hasSource = (js) => fs.existsSync(path.join(__dirname, "..", path.relative(path.join(root, ".."), js).replace(/\.js$/, ".ts")));
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith(".test.js") && p.includes(filter) && hasSource(p)) files.push(p);
  }
})(root);
files.sort();
if (files.length === 0) {
  console.error(`no test files under ${root} matching '${filter}'`);
  process.exit(1);
}
// Every Tensor.empty output is NaN-filled in tests, so an element an op never writes shows up.
const env = { ...process.env, CLLM4REC_POISON_EMPTY: process.env.CLLM4REC_POISON_EMPTY ?? "1" };
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=1", ...files], { stdio: "inherit", env });
process.exit(r.status === null ? 1 : r.status);
