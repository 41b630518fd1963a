// The import checker fails on what it must fail on: a runtime cycle, two top folders importing
// each other (a type-only import counts); and passes on a tree that flows one way.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";

const script = path.join(__dirname, "..", "..", "..", "scripts", "check_imports.js");

function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "check-imports-"));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

function check(dir: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [script], { env: { ...process.env, CHECK_IMPORTS_ROOT: dir }, encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

const oneWay = {
  "src/a/x.ts": `import { y } from "../b/y";\nexport const x = y;\n`,
  "src/b/y.ts": "export const y = 1;\n",
  "dist-test/src/a/x.js": `const y_1 = require("../b/y");\n`,
  "dist-test/src/b/y.js": "exports.y = 1;\n",
};

test("check_imports passes a tree whose imports flow one way", () => {
  const r = check(tree(oneWay));
  assert.equal(r.status, 0, r.out);
});

test("check_imports fails on a runtime cycle between files", () => {
  const r = check(tree({ ...oneWay, "dist-test/src/b/y.js": `const x_1 = require("../a/x");\n` }));
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /runtime import cycle: a\/x\.ts -> b\/y\.ts/);
});

test("check_imports fails on two top folders importing each other, type-only imports included", () => {
  const r = check(tree({ ...oneWay, "src/b/y.ts": `import type { x } from "../a/x";\nexport const y = 1;\n` }));
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /src\/a and src\/b import each other/);
});
