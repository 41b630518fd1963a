// src/engine/native.ts declares the addon by hand; the addon exports the signature of
// every kernel entry from its table (native/addon/kernels.cc). They must agree: same
// entries, same parameter names in the same order, matching types.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { nat } from "./helpers";

type Signatures = Record<string, [string, string][]>;

const TS_TYPE: Record<string, string> = {
  f32: "NativeBuffer",
  i32: "NativeBuffer",
  "f32?": "NativeBuffer | null",
  "i32?": "NativeBuffer | null",
  int: "number",
  float: "number",
  bool: "boolean",
};

/** Methods of the NativeAddon interface in a native.ts source: name -> [param, type text][] */
function declared(source: string): Map<string, [string, string][]> {
  const file = ts.createSourceFile("native.ts", source, ts.ScriptTarget.ES2022, true);
  const out = new Map<string, [string, string][]>();
  file.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node) || node.name.text !== "NativeAddon") return;
    for (const m of node.members)
      if (ts.isMethodSignature(m))
        out.set(
          m.name.getText(file),
          m.parameters.map((p) => [p.name.getText(file), p.type ? p.type.getText(file) : "?"]),
        );
  });
  return out;
}

/** Every disagreement between the declared interface and the exported signatures. */
function mismatches(source: string, sigs: Signatures, exported: string[]): string[] {
  const decl = declared(source),
    out: string[] = [];
  for (const [name, params] of Object.entries(sigs)) {
    const d = decl.get(name);
    if (!d) {
      out.push(`${name}: exported by the addon, not declared in native.ts`);
      continue;
    }
    if (d.length !== params.length) out.push(`${name}: native.ts has ${d.length} parameters, the addon ${params.length}`);
    params.forEach(([p, kind], i) => {
      if (!d[i]) return;
      if (d[i][0] !== p) out.push(`${name}: parameter ${i} is '${d[i][0]}' in native.ts, '${p}' in the addon`);
      if (d[i][1] !== TS_TYPE[kind]) out.push(`${name}: ${p} is '${d[i][1]}' in native.ts, the addon takes ${kind} (${TS_TYPE[kind]})`);
    });
  }
  for (const name of decl.keys()) if (!exported.includes(name)) out.push(`${name}: declared in native.ts, not exported by the addon`);
  return out;
}

const source = fs.readFileSync(path.join(__dirname, "..", "..", "..", "src", "engine", "native.ts"), "utf8");
const exported = Object.keys(nat).filter((k) => typeof (nat as unknown as Record<string, unknown>)[k] === "function");

test("native.ts declares every kernel entry exactly as the addon's table exports it", () => {
  const sigs = nat.signatures as Signatures;
  assert.ok(Object.keys(sigs).length >= 30, `only ${Object.keys(sigs).length} signatures exported`);
  assert.deepEqual(mismatches(source, sigs, exported), []);
  // Functions outside the table (memory, devices, stats) are declared too.
  for (const name of exported) assert.ok(declared(source).has(name), `${name} is exported but not declared`);
});

test("the comparison catches a swapped parameter, a wrong type and a missing entry", () => {
  const sigs = nat.signatures as Signatures;
  const swapped = source.replace(
    "sum(x: NativeBuffer, n: number, out: NativeBuffer)",
    "sum(n: number, x: NativeBuffer, out: NativeBuffer)",
  );
  const retyped = source.replace("fill(out: NativeBuffer, value: number, n: number)", "fill(out: NativeBuffer, value: boolean, n: number)");
  const dropped = source.replace(/\n\s*adam\(\s*p: NativeBuffer[^;]*;/, "");
  assert.notEqual(swapped, source);
  assert.notEqual(retyped, source);
  assert.notEqual(dropped, source);
  assert.ok(mismatches(swapped, sigs, exported).some((m) => m.startsWith("sum: parameter 0 is 'n'")));
  assert.ok(mismatches(retyped, sigs, exported).some((m) => m.startsWith("fill: value is 'boolean'")));
  assert.deepEqual(mismatches(dropped, sigs, exported), ["adam: exported by the addon, not declared in native.ts"]);
});
