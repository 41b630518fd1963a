#!/usr/bin/env node
// The import rules of src/ (layers flow one way), checked on every `npm test`:
//  1. no runtime import cycle between files — read from the compiled dist-test/src, where the
//     compiler has already dropped imports used only as types;
//  2. no two top folders of src/ that import each other in both directions, type-only imports
//     included — read from the TypeScript sources.

const fs = require("node:fs");
const path = require("node:path");
const ts = require("typescript");

// CHECK_IMPORTS_ROOT: another tree to check (the test of this script uses it)
const root = process.env.CHECK_IMPORTS_ROOT || path.join(__dirname, "..");
const srcDir = path.join(root, "src");
const compiledDir = path.join(root, "dist-test", "src");

function walk(dir, ext, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, ext, out);
    else if (e.name.endsWith(ext) && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

function resolve(fromFile, spec, ext) {
  if (!spec.startsWith(".")) return null; // a package or node: builtin
  const base = path.resolve(path.dirname(fromFile), spec);
  for (const c of [base, base + ext, path.join(base, "index" + ext)]) {
    if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  }
  throw new Error(`${path.relative(root, fromFile)}: cannot resolve import '${spec}'`);
}

/** Every module specifier a TypeScript file names: imports, re-exports, import("x") types, require. */
function tsSpecifiers(file) {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const specs = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier))
      specs.push(node.moduleSpecifier.text);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal))
      specs.push(node.argument.literal.text);
    else if (
      ts.isCallExpression(node) &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0]) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require"))
    )
      specs.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return specs;
}

/** The require() targets of a compiled file. */
function jsSpecifiers(file) {
  const text = fs.readFileSync(file, "utf8");
  return [...text.matchAll(/\brequire\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]);
}

/** Strongly connected components with more than one file (or a self-import): the cycles. */
function cycles(graph) {
  let index = 0;
  const idx = new Map(),
    low = new Map(),
    onStack = new Set(),
    stack = [],
    found = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? new Set()).has(v)) found.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return found;
}

const problems = [];

// 1. Runtime cycles.
if (!fs.existsSync(compiledDir)) {
  console.error(`check_imports: ${path.relative(root, compiledDir)} is missing; run tsc -p tsconfig.test.json first`);
  process.exit(1);
}
const runtime = new Map();
for (const f of walk(compiledDir, ".js")) {
  const deps = new Set();
  for (const s of jsSpecifiers(f)) {
    const r = resolve(f, s, ".js");
    if (r) deps.add(r);
  }
  runtime.set(f, deps);
}
for (const comp of cycles(runtime)) {
  problems.push(`runtime import cycle: ${comp.map((f) => path.relative(compiledDir, f).replace(/\.js$/, ".ts")).join(" -> ")}`);
}

// 2. Top folders importing each other (type-only imports count).
const top = (file) => {
  const rel = path.relative(srcDir, file).split(path.sep);
  return rel.length > 1 ? rel[0] : "(src root)";
};
const folderEdges = new Map(); // "a>b" -> one example "fileA imports fileB"
for (const f of walk(srcDir, ".ts")) {
  for (const s of tsSpecifiers(f)) {
    const r = resolve(f, s, ".ts");
    if (!r || top(f) === top(r)) continue;
    const key = `${top(f)}>${top(r)}`;
    if (!folderEdges.has(key)) folderEdges.set(key, `${path.relative(srcDir, f)} imports ${path.relative(srcDir, r)}`);
  }
}
for (const [key, example] of folderEdges) {
  const [a, b] = key.split(">");
  if (a < b && folderEdges.has(`${b}>${a}`)) {
    problems.push(`src/${a} and src/${b} import each other: ${example}; ${folderEdges.get(`${b}>${a}`)}`);
  }
}

if (problems.length > 0) {
  console.error(`check_imports: ${problems.length} problem(s)\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(
  `check_imports: ${runtime.size} compiled files without runtime cycles; ${folderEdges.size} folder-to-folder import directions, none mutual`,
);
