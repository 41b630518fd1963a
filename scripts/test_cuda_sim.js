#!/usr/bin/env node
// `npm run test:cuda-sim`: builds the simulator addon (native/cudasim) and runs the
// test/cuda suite, unchanged, against it (CLLM4REC_ADDON). Fails when a CUDA test is
// skipped for any reason other than needing a real device.
//   node scripts/test_cuda_sim.js [--asan] [--schedule forward|reverse|random:SEED] [filter]

const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { build } = require("./build_cudasim");

const root = path.resolve(__dirname, "..");

// Skip reasons that are allowed on the simulator (twin.ts's `skipOnSimulator`).
const ALLOWED_SKIP = /needs a real GPU/;

function parse(argv) {
  const o = { asan: false, schedule: process.env.CUDASIM_SCHEDULE || "forward", filter: "", addon: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--asan") o.asan = true;
    else if (argv[i] === "--schedule") o.schedule = argv[++i];
    else if (argv[i] === "--addon") o.addon = path.resolve(argv[++i]);
    else o.filter = argv[i];
  }
  if (!/^(forward|reverse|random(:\d+)?)$/.test(o.schedule))
    throw new Error(`test-cuda-sim: --schedule ${o.schedule} is not forward|reverse|random:SEED`);
  return o;
}

// Runs test/cuda against `addon`; returns { status, pass, fail, skipped, badSkips, seconds }.
function runSuite(addon, { schedule = "forward", filter = "", asan = false, quiet = false, files = null, timeoutMs = 0 } = {}) {
  const dir = path.join(root, "dist-test", "test", "cuda");
  if (!fs.existsSync(dir)) throw new Error("test-cuda-sim: dist-test/test/cuda missing: run `npx tsc -p tsconfig.test.json`");
  const tests =
    files ||
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".test.js") && f.includes(filter))
      .sort()
      .map((f) => path.join(dir, f));
  const tap = path.join(path.dirname(addon), `tests-${process.pid}.tap`);
  const env = {
    ...process.env,
    CLLM4REC_ADDON: addon,
    CUDASIM_SCHEDULE: schedule,
    CLLM4REC_POISON_EMPTY: process.env.CLLM4REC_POISON_EMPTY ?? "1",
  };
  if (asan) {
    const lib = (n) => spawnSync(process.env.CXX || "g++", [`-print-file-name=${n}`], { encoding: "utf8" }).stdout.trim();
    env.LD_PRELOAD = [lib("libasan.so"), lib("libubsan.so")].join(" ");
    env.ASAN_OPTIONS = "detect_leaks=0:abort_on_error=1:" + (process.env.ASAN_OPTIONS || "");
    env.UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1";
  }
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [
      "--test",
      "--test-concurrency=1",
      "--test-reporter=spec",
      "--test-reporter-destination=stdout",
      "--test-reporter=tap",
      `--test-reporter-destination=${tap}`,
      ...tests,
    ],
    { stdio: quiet ? ["ignore", "pipe", "pipe"] : "inherit", env, encoding: "utf8", maxBuffer: 1 << 28, timeout: timeoutMs },
  );
  const text = fs.existsSync(tap) ? fs.readFileSync(tap, "utf8") : "";
  fs.rmSync(tap, { force: true });
  const count = (k) => Number((new RegExp(`^# ${k} (\\d+)$`, "m").exec(text) || [0, 0])[1]);
  const badSkips = [...text.matchAll(/^\s*ok \d+ - (.*) # SKIP ?(.*)$/gm)]
    .filter((m) => !ALLOWED_SKIP.test(m[2]))
    .map((m) => `${m[1]} (${m[2]})`);
  return {
    status: r.status,
    signal: r.signal,
    pass: count("pass"),
    fail: count("fail"),
    skipped: count("skipped"),
    badSkips,
    seconds: (Date.now() - t0) / 1000,
    output: quiet ? (r.stdout || "") + (r.stderr || "") : "",
  };
}

module.exports = { runSuite };

if (require.main === module) {
  (async () => {
    const o = parse(process.argv.slice(2));
    const addon = o.addon || (await build({ asan: o.asan, selftest: true, cudaDir: path.join(root, "native", "cuda") }));
    let selftestOk = true;
    if (!o.addon) {
      // the simulator's own checks and the device code the addon cannot reach
      const exe = path.join(path.dirname(addon), "cudasim-selftest");
      for (const mode of ["all", "device-error"]) {
        const st = spawnSync(exe, [mode], { stdio: "inherit", env: { ...process.env, CUDASIM_SCHEDULE: o.schedule } });
        selftestOk = selftestOk && st.status === 0;
      }
    }
    const r = runSuite(addon, o);
    console.log(
      `test:cuda-sim: schedule ${o.schedule}${o.asan ? ", ASan + UBSan" : ""}: ${r.pass} passed, ${r.fail} failed, ` +
        `${r.skipped} skipped in ${r.seconds.toFixed(1)} s`,
    );
    if (r.badSkips.length) console.error(`test:cuda-sim: skipped without needing a real GPU:\n  ${r.badSkips.join("\n  ")}`);
    process.exit(selftestOk && r.status === 0 && r.fail === 0 && r.pass > 0 && r.badSkips.length === 0 ? 0 : 1);
  })().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
