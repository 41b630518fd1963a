// Defects found by reading the CUDA backend against its CPU twin (issue 15), each pinned:
// overlapping device copies, copyStrided overlap, masked attention keys holding NaN/Inf,
// and the reason reported when no device answers (simulator only: it injects the error).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { addonPath } from "../../src/engine/native";
import {
  both,
  expectClose,
  freeAll,
  nat,
  onSimulator,
  rng,
  skipCuda,
  skipDevice,
  twinF32,
  twinFill,
  twinI32,
  uniform,
  TOL_REDUCTION,
} from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

test("cuda copy: overlapping ranges of one device buffer move like memmove", { skip: skipDevice }, () => {
  const n = 1000,
    src = new Float32Array(n).map((_, i) => i + 1);
  for (const [dstOff, srcOff, len] of [
    [3, 0, 900],
    [0, 3, 900],
    [1, 0, 999],
    [0, 500, 500],
  ]) {
    const g = nat().alloc(1, 0, n);
    nat().upload(g, src);
    nat().copy(g, dstOff, g, srcOff, len);
    const want = Float32Array.from(src);
    want.copyWithin(dstOff, srcOff, srcOff + len);
    const got = new Float32Array(n);
    nat().download(g, got);
    assert.deepEqual(got, want, `copy ${len} floats ${srcOff} -> ${dstOff}`);
    nat().free(g);
  }
});

test("copyStrided: overlapping dst and src in one buffer is a named error on both devices", { skip: skipCuda }, () => {
  const t = twinF32(new Float32Array(80).map((_, i) => i));
  for (const dev of ["cpu", "gpu"] as const)
    assert.throws(
      () => nat().copyStrided(t[dev], 4, 8, 8, t[dev], 0, 8, 8, 2, 4, 4, false),
      (e: Error) => /copyStrided/.test(e.message) && /overlap/.test(e.message),
    );
  // disjoint halves of one buffer are fine
  both((x) => nat().copyStrided(x(t), 40, 8, 8, x(t), 0, 8, 8, 2, 4, 4, true));
  expectClose(t, "copyStrided disjoint halves", 0);
});

test("cuda attention: NaN/Inf in masked keys' values propagate exactly as on the CPU", { skip: skipCuda }, () => {
  const rand = rng(7);
  const B = 2,
    H = 2,
    T = 37,
    Dh = 16,
    D = H * Dh,
    ld = 3 * D;
  const qkv = uniform(rand, B * T * ld, -1, 1);
  const m = new Int32Array(B * T).fill(1);
  for (const j of [3, 20, T + 5]) {
    m[j] = 0; // masked key whose value row holds NaN / Inf (padding garbage)
    qkv[j * ld + 2 * D + 1] = j === 20 ? Infinity : NaN;
  }
  const x0 = twinF32(qkv),
    mask = twinI32(m);
  const out = twinFill(B * T * D, 0),
    lse = twinFill(B * H * T, 0);
  both((x) => nat().attentionForward(x(x0), 0, ld, x(x0), D, 2 * D, ld, x(mask), x(out), x(lse), B, H, T, T, Dh, 0, 0, 0, 0, 1, 0));
  expectClose(out, "attention out with NaN/Inf in masked values", TOL_REDUCTION);
  const dout = twinF32(uniform(rand, B * T * D)),
    dqkv = twinFill(B * T * ld, 0);
  both((x) =>
    nat().attentionBackward(
      x(dout),
      x(x0),
      0,
      ld,
      x(x0),
      D,
      2 * D,
      ld,
      x(mask),
      x(out),
      x(lse),
      x(dqkv),
      0,
      x(dqkv),
      D,
      2 * D,
      B,
      H,
      T,
      T,
      Dh,
      0,
      0,
      0,
      0,
      1,
      0,
    ),
  );
  const dq = nat().numel(dqkv.cpu);
  assert.ok(dq > 0);
  // dq columns (the first D of each row) follow the CPU bit for bit in NaN-ness
  const c = new Float32Array(dq),
    g = new Float32Array(dq);
  nat().download(dqkv.cpu, c);
  nat().download(dqkv.gpu, g);
  for (let r = 0; r < B * T; r++)
    for (let d = 0; d < D; d++) {
      const i = r * ld + d;
      assert.equal(Number.isNaN(g[i]), Number.isNaN(c[i]), `dq[${r}, ${d}]: gpu ${g[i]}, cpu ${c[i]}`);
      if (!Number.isNaN(c[i]))
        assert.ok(Math.abs(g[i] - c[i]) <= TOL_REDUCTION * (1 + Math.abs(c[i])), `dq[${r}, ${d}]: gpu ${g[i]}, cpu ${c[i]}`);
    }
});

test("cuda device count: a failing cudaGetDeviceCount reports its real cause", {
  skip: skipCuda || (!onSimulator && "needs the simulator, which can inject a driver error"),
}, () => {
  const script = `const n = require(${JSON.stringify(addonPath())}); console.log(JSON.stringify([n.cudaDeviceCount(), n.cudaDeviceError()]));`;
  const r = spawnSync(process.execPath, ["-e", script], {
    encoding: "utf8",
    env: { ...process.env, CUDASIM_DEVICE_ERROR: "cudaErrorInsufficientDriver" },
  });
  assert.equal(r.status, 0, r.stderr);
  const [count, why] = JSON.parse(r.stdout) as [number, string];
  assert.equal(count, 0);
  assert.match(why, /cudaErrorInsufficientDriver/);
  assert.equal(nat().cudaDeviceError(), "", "this process has a device and no error");
});
