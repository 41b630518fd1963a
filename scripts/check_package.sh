#!/usr/bin/env bash
# Pack-and-install check (.ci/run): `npm pack` ships only what a user needs; the tarball
# installs into an empty project (the CPU addon builds there from source), `npx cllm4rec
# --help` and examples/quickstart.js run against it, and the example type-checks against
# the shipped declarations. Offline-friendly: npm reuses the cache `npm ci` filled.
# CLLM4REC_PACK_KEEP=1 keeps the temporary folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/cllm4rec-pack-XXXXXX")"
[ "${CLLM4REC_PACK_KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
t0=$(date +%s)
step() { echo "check-package: $* ($(( $(date +%s) - t0 )) s)"; }
fail() { echo "check-package: FAILED: $*" >&2; exit 1; }

cd "$root"
step "npm pack (runs prepare: tsc -> dist/)"
npm pack --silent --pack-destination "$tmp" > "$tmp/pack.out"
tarball="$tmp/$(tail -n 1 "$tmp/pack.out")"
[ -f "$tarball" ] || fail "npm pack wrote no tarball ($(cat "$tmp/pack.out"))"
tar -tzf "$tarball" | sed 's#^package/##' | sort > "$tmp/files.txt"
count=$(wc -l < "$tmp/files.txt")
size=$(du -k "$tarball" | cut -f1)
step "tarball $(basename "$tarball"): $count files, ${size} KiB"
for need in package.json LICENSE README.md binding.gyp CMakeLists.txt scripts/build_cpu_addon.js scripts/build_native.js scripts/native_paths.js \
  native/include/kernels.h native/addon/kernels.cc dist/index.js dist/index.d.ts dist/train.js dist/engine/index.d.ts; do
  grep -qx "$need" "$tmp/files.txt" || fail "the tarball lacks $need"
done
# nothing a user does not need: tests, fixtures, benchmarks, source maps, builds, caches
if grep -E '^(test|dist-test|bench|build|build-cuda|node_modules|runs|kit|src|\.cache|\.ci|examples)/|\.map$' "$tmp/files.txt" > "$tmp/extra.txt"; then
  fail "the tarball ships files a user does not need: $(head -5 "$tmp/extra.txt" | tr '\n' ' ')"
fi

step "install into an empty project (builds the CPU addon from source)"
mkdir "$tmp/project"
cd "$tmp/project"
printf '{ "name": "cllm4rec-pack-check", "version": "1.0.0", "private": true }\n' > package.json
npm install --prefer-offline --no-audit --no-fund --loglevel=error "$tarball" > "$tmp/install.log" 2>&1 ||
  { tail -30 "$tmp/install.log" >&2; fail "npm install of the tarball"; }
[ -f node_modules/cllm4rec/build/Release/cllm4rec.node ] || fail "the CPU addon was not built in node_modules/cllm4rec/build/Release"

step "npx cllm4rec --help"
npx --no-install cllm4rec --help > "$tmp/help.txt"
grep -q "usage:" "$tmp/help.txt" || fail "--help printed no usage"
grep -q -- "--port" "$tmp/help.txt" || fail "--help lacks the serve flags"

step "examples/quickstart.js against the installed package"
cp "$root/examples/quickstart.js" .
CLLM4REC_CACHE="$tmp/cache" node quickstart.js | tee "$tmp/example.txt"
grep -q "^engine: " "$tmp/example.txt" || fail "the example did not finish"

step "type-check the example against the shipped declarations (node16 resolution: exports map)"
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "module": "node16", "moduleResolution": "node16", "target": "ES2022", "allowJs": true, "checkJs": true,
  "noEmit": true, "strict": true, "skipLibCheck": false, "types": ["node"], "typeRoots": ["TYPEROOTS"] }, "files": ["quickstart.js"] }
JSON
sed -i "s#TYPEROOTS#$root/node_modules/@types#" tsconfig.json
node "$root/node_modules/typescript/bin/tsc" -p tsconfig.json || fail "the example does not type-check against the package's declarations"
# and the check can fail: a wrong argument type must be reported through the same declarations
printf '// @ts-check\nrequire("cllm4rec").openRun(42);\nrequire("cllm4rec/run").openRun("x").then((r) => r.recommend("u", "ten"));\n' > wrong.js
sed -i 's#"quickstart.js"#"wrong.js"#' tsconfig.json
if node "$root/node_modules/typescript/bin/tsc" -p tsconfig.json > "$tmp/wrong.txt" 2>&1; then fail "a type error in wrong.js went unreported"; fi
[ "$(grep -c "error TS2345" "$tmp/wrong.txt")" = 2 ] || { cat "$tmp/wrong.txt" >&2; fail "expected two TS2345 errors in wrong.js"; }

step "done"
