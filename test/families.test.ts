// The family list (src/engine/families.ts) against the tree: every family has all its
// files, every kernel of native/include/kernels.h belongs to exactly one family and is
// defined in that family's cpu and cuda files (CPU-only ones in its cpu file) and bound by the addon, every native and
// ops file belongs to a family, and every listed op is exported by its wrapper.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { FAMILIES } from "../src/engine/families";
import { native } from "../src/engine/native";

const root = path.join(__dirname, "..", "..");
const read = (p: string) => fs.readFileSync(path.join(root, p), "utf8");
const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

test("every family has its cpu, cuda, wrapper, test and bench files", () => {
  for (const f of FAMILIES) {
    assert.match(f.name, /^[a-z][a-z0-9_]*$/, `${f.name}: family names are snake_case`);
    const files = [
      `native/cpu/${f.name}.cc`,
      `native/cuda/${f.name}.cu`,
      f.wrapper ?? `src/engine/ops/${f.name}.ts`,
      `test/native/${f.name}.test.ts`,
      `test/cuda/${f.name}.test.ts`,
      `test/ops/${f.name}.test.ts`,
    ];
    if (f.bench) files.push(`bench/${f.name}.bench.ts`);
    for (const file of files) assert.ok(fs.existsSync(path.join(root, file)), `family ${f.name}: ${file} is missing`);
  }
});

test("every kernel of kernels.h is in one family, defined in its twins and bound by the addon", () => {
  const header = read("native/include/kernels.h");
  const macro = header.slice(header.indexOf("#define CLLM4REC_KERNELS"), header.indexOf("CLLM4REC_KERNELS(cpu)"));
  const declared = [...macro.replace(/\/\*[\s\S]*?\*\//g, "").matchAll(/void\s+(\w+)\s*\(/g)].map((m) => m[1]);
  assert.ok(declared.length >= 30, `only ${declared.length} kernels parsed from kernels.h`);
  const listed = FAMILIES.flatMap((f) => f.kernels);
  assert.deepEqual([...listed].sort(), [...declared].sort(), "the families' kernels are exactly those of kernels.h");
  const signatures = native().signatures;
  for (const f of FAMILIES) {
    const cpu = read(`native/cpu/${f.name}.cc`),
      cuda = read(`native/cuda/${f.name}.cu`);
    for (const k of f.kernels) {
      const def = new RegExp(`^void ${k}\\(`, "m");
      assert.match(cpu, def, `${k} is not defined in native/cpu/${f.name}.cc`);
      assert.match(cuda, def, `${k} is not defined in native/cuda/${f.name}.cu`);
      assert.ok(signatures[camel(k)], `${k} has no row in native/addon/kernels.cc`);
    }
  }
  // CPU-only kernels (kernels_cpu.h): defined in the family's cpu file and bound, no CUDA twin
  const cpuHeader = read("native/include/kernels_cpu.h");
  const cpuOnly = FAMILIES.flatMap((f) => f.cpuOnly ?? []);
  for (const f of FAMILIES)
    for (const k of f.cpuOnly ?? []) {
      assert.match(cpuHeader, new RegExp(`\\b${k}\\(`), `${k} is not declared in native/include/kernels_cpu.h`);
      assert.match(read(`native/cpu/${f.name}.cc`), new RegExp(`^void ${k}\\(`, "m"), `${k} is not defined in native/cpu/${f.name}.cc`);
      assert.ok(signatures[camel(k)], `${k} has no CPU_ROW in native/addon/kernels.cc`);
    }
  assert.equal(Object.keys(signatures).length, declared.length + cpuOnly.length, "every addon row is a kernels.h or kernels_cpu.h kernel");
});

test("every native and ops file belongs to a family; every listed op is exported by its wrapper", () => {
  const names = new Set(FAMILIES.map((f) => f.name));
  const shared = new Set(["threads.cc", "runtime.cu", "timing.cu", "common.ts"]); // the CPU thread pool, CUDA runtime and event timer, op helpers
  for (const [dir, ext] of [
    ["native/cpu", ".cc"],
    ["native/cuda", ".cu"],
    ["src/engine/ops", ".ts"],
  ] as const)
    for (const file of fs.readdirSync(path.join(root, dir)))
      if (file.endsWith(ext) && !shared.has(file))
        assert.ok(names.has(file.slice(0, -ext.length)), `${dir}/${file} belongs to no family (src/engine/families.ts)`);
  for (const f of FAMILIES) {
    const wrapper = require(path.join(root, "dist-test", (f.wrapper ?? `src/engine/ops/${f.name}.ts`).replace(/\.ts$/, ".js")));
    for (const op of f.ops) assert.equal(typeof wrapper[op], "function", `${f.name}: ${op} is not exported by its wrapper`);
  }
});

test("README's family table names every family", () => {
  const readme = read("README.md");
  for (const f of FAMILIES) assert.ok(readme.includes(`| \`${f.name}\` |`), `README.md has no table row for ${f.name}`);
});
