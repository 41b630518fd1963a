#!/usr/bin/env bash
# `npm run check:device`: the one check for a GPU machine (maybe air-gapped, maybe
# without Node.js on PATH: kit/run.sh puts one there). Records the device, builds the
# CUDA addon only if it is absent and nvcc exists, runs the CUDA test suite, a short
# training run on CUDA and CPU, and the benchmarks, and writes at most 8 result files into ${OUT:-out}, within ~8 minutes.
# Works from a checkout and from the kit (scripts/device_kit.js).
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-out}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
START=$(date +%s)
BUDGET=${CLLM4REC_CHECK_BUDGET_S:-450}  # whole script, leaving margin under 8 minutes
STEPS=""

left() { echo $((BUDGET - ($(date +%s) - START))); }
# Per-step limit: the wanted seconds, or what is left of the budget if less.
cap() { local want=$1 l; l=$(left); [ "$l" -lt "$want" ] && want=$l; [ "$want" -lt 5 ] && want=5; echo "$want"; }
record() { STEPS="$STEPS{\"step\":\"$1\",\"rc\":$2,\"seconds\":$3},"; echo "check:device: $1 -> rc $2 (${3}s)"; }
have() { command -v "$1" >/dev/null 2>&1; }

# 1. The machine.
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -a)"
  echo "root: $ROOT"
  echo "which: node=$(command -v node || echo none) nvidia-smi=$(command -v nvidia-smi || echo none) nvcc=$(command -v nvcc || echo none)"
  have node && echo "node: $(node --version)"
  have nvcc && nvcc --version | tail -2
  echo "commit: $(git rev-parse HEAD 2>/dev/null || cat COMMIT 2>/dev/null || echo unknown)"
  echo "--- nvidia-smi"
  if have nvidia-smi; then timeout 30 nvidia-smi 2>&1; else echo "nvidia-smi not found"; fi
} > "$OUT/device.txt" 2>&1
record device 0 0

if ! have node; then
  echo "check:device: node is not on PATH (use the kit: npm run device:kit, then kit/run.sh)" | tee -a "$OUT/device.txt"
  printf '{"ok":false,"reason":"node not found","steps":[%s]}\n' "${STEPS%,}" > "$OUT/summary.json"
  exit 1
fi

# 2. Build the CUDA addon only where it is missing and can be built here.
ADDON=build-cuda/Release/cllm4rec_cuda.node
: > "$OUT/build.log"
if [ ! -f "$ADDON" ] && [ -f CMakeLists.txt ] && { have nvcc || [ -x /usr/local/cuda/bin/nvcc ]; }; then
  t0=$(date +%s)
  CLLM4REC_BUILD_JOBS=${CLLM4REC_BUILD_JOBS:-8} timeout "$(cap 300)" node scripts/build_native.js >> "$OUT/build.log" 2>&1
  record build-native $? $(($(date +%s) - t0))
else
  echo "build-native skipped: $( [ -f "$ADDON" ] && echo "prebuilt $ADDON present" || echo "no sources or no nvcc")" >> "$OUT/build.log"
fi
if [ ! -d dist-test/test/cuda ] && [ -x node_modules/.bin/tsc ]; then
  t0=$(date +%s)
  timeout "$(cap 120)" node_modules/.bin/tsc -p tsconfig.test.json >> "$OUT/build.log" 2>&1
  record tsc $? $(($(date +%s) - t0))
fi
node -e 'const n=require("./dist-test/src/engine/native.js"); const a=n.native(); console.log(`addon: ${n.addonPath()} hasCuda=${a.hasCuda} devices=${a.cudaDeviceCount()} name=${a.cudaDeviceName()}`)' >> "$OUT/build.log" 2>&1

# 3. The CUDA test suite: spec output to read, TAP to parse.
TESTS_RC=1
if ls dist-test/test/cuda/*.test.js >/dev/null 2>&1; then
  t0=$(date +%s)
  timeout "$(cap 240)" node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$OUT/cuda-tests.tap" \
    dist-test/test/cuda/*.test.js > "$OUT/cuda-tests.txt" 2>&1
  TESTS_RC=$?
  record cuda-tests $TESTS_RC $(($(date +%s) - t0))
else
  echo "no compiled CUDA tests under dist-test/test/cuda" > "$OUT/cuda-tests.txt"
  record cuda-tests 1 0
fi

# 4. The same short training run on CUDA and on the CPU: metrics and seconds per epoch.
t0=$(date +%s)
timeout "$(cap 150)" node scripts/train_devices.js "$OUT/train_devices.json" > "$OUT/bench.log" 2>&1
record train-devices $? $(($(date +%s) - t0))

# 5. Benchmarks on the GPU (one merged JSON, bench.json, written by the runner into $OUT).
if [ -f dist-test/bench/run.js ]; then
  mkdir -p bench/results
  t0=$(date +%s)
  CLLM4REC_BENCH_DEVICE=cuda CLLM4REC_BENCH_OUT="$OUT" CLLM4REC_BENCH_BUDGET_S=${CLLM4REC_BENCH_BUDGET_S:-$(( $(left) - 20 ))} \
    timeout "$(cap 200)" node dist-test/bench/run.js >> "$OUT/bench.log" 2>&1
  record bench $? $(($(date +%s) - t0))
else
  echo "dist-test/bench/run.js not found: no benchmarks run" >> "$OUT/bench.log"
fi

# 6. Every GEMM version timed with CUDA events (bench/cuda/gemm; table + one JSON line in bench.log).
if [ -f dist-test/bench/cuda/gemm/time.js ]; then
  t0=$(date +%s)
  timeout "$(cap 60)" node dist-test/bench/cuda/gemm/time.js >> "$OUT/bench.log" 2>&1
  record gemm-versions $? $(($(date +%s) - t0))
fi

# 7. Every attention version timed with CUDA events, forward and forward + backward (bench/cuda/attention).
if [ -f dist-test/bench/cuda/attention/time.js ]; then
  t0=$(date +%s)
  timeout "$(cap 60)" node dist-test/bench/cuda/attention/time.js >> "$OUT/bench.log" 2>&1
  record attention-versions $? $(($(date +%s) - t0))
fi

# Counts from the TAP footer: skipped tests mean no GPU answered (or CUDA was not built).
count() { sed -n "s/^# $1 \([0-9]*\)$/\1/p" "$OUT/cuda-tests.tap" 2>/dev/null | tail -1; }
PASS=$(count pass); FAIL=$(count fail); SKIP=$(count skipped)
printf '{"ok":%s,"tests":{"pass":%s,"fail":%s,"skipped":%s},"seconds":%d,"steps":[%s]}\n' \
  "$([ $TESTS_RC -eq 0 ] && [ "${PASS:-0}" -gt 0 ] && echo true || echo false)" \
  "${PASS:-0}" "${FAIL:-0}" "${SKIP:-0}" $(($(date +%s) - START)) "${STEPS%,}" > "$OUT/summary.json"
echo "check:device: results in $OUT: $(ls "$OUT" | tr '\n' ' ')"
exit $TESTS_RC
