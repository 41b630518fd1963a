// The per-kernel profiler behind --profile: it counts every call of a wrapped kernel,
// adds the FLOPs of GEMMs from their shapes and bytes of the rest, and restores the
// addon when disabled.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, tidy, linear, gelu, native } from "../../src/engine";
import { enableProfile, disableProfile, profileReport, formatProfile, resetProfile, profiling } from "../../src/engine/profile";

test("profile counts calls and FLOPs per GEMM shape and bytes per elementwise kernel", () => {
  const gemmBefore = native().gemm;
  enableProfile();
  assert.ok(profiling());
  assert.notEqual(native().gemm, gemmBefore, "gemm is wrapped");
  resetProfile();
  tidy(() => {
    const x = Tensor.from(new Float32Array(6 * 4).fill(0.5), [6, 4]);
    const w = Tensor.from(new Float32Array(4 * 3).fill(0.25), [4, 3]);
    for (let i = 0; i < 3; i++) gelu(linear(x, w, null));
  });
  const r = profileReport();
  const g = r.rows.find((row) => row.op === "gemm NN 6x3x4");
  assert.ok(g, `a row for the 6x3x4 GEMM: ${r.rows.map((row) => row.op).join(", ")}`);
  assert.equal(g.calls, 3);
  assert.equal(g.flops, 3 * 2 * 6 * 3 * 4);
  const gf = r.rows.find((row) => row.op === "geluForward");
  assert.ok(gf);
  assert.equal(gf.calls, 3);
  assert.equal(gf.bytes, 3 * 2 * 4 * 18, "read x, write y: 8 bytes per element");
  assert.ok(r.gemmMs <= r.nativeMs + 1e-9 && r.nativeMs <= r.wallMs + 1e-6);
  assert.match(formatProfile(r), /gemm NN 6x3x4 +3 /);
  disableProfile();
  assert.ok(!profiling());
  assert.equal(native().gemm, gemmBefore, "disable restores the original kernel");
});
