// allocEmpty / Tensor.empty: outputs an op writes in full skip the zero fill. Under the test
// runners' CLLM4REC_POISON_EMPTY=1 their blocks come back NaN-filled (int32: 0x7fc00000), so an
// op that leaves an element unwritten fails its tests instead of reading stale memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { nat } from "./helpers";

const script = (body: string) =>
  `const n=require(${JSON.stringify(require.resolve("../../src/engine/native"))}).native();` +
  `const {Tensor}=require(${JSON.stringify(require.resolve("../../src/engine/tensor"))});${body}`;

function run(body: string, poison: string) {
  const r = spawnSync(process.execPath, ["-e", script(body)], { env: { ...process.env, CLLM4REC_POISON_EMPTY: poison }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test("under CLLM4REC_POISON_EMPTY=1 an empty block is NaN bits (f32 and i32), a zeroed one is 0", () => {
  const got = run(
    `const f=n.allocEmpty(0,0,300000),h=new Float32Array(300000);n.download(f,h);` +
      `const i=n.allocEmpty(0,1,1000),hi=new Int32Array(1000);n.download(i,hi);` +
      `const z=n.alloc(0,0,300000),hz=new Float32Array(300000);n.download(z,hz);` +
      `const t=Tensor.empty([7,3]).toFloat32();` +
      `process.stdout.write(JSON.stringify({f:h.every(Number.isNaN),i:hi.every(v=>v===0x7fc00000),z:hz.every(v=>v===0),t:t.every(Number.isNaN)}))`,
    "1",
  );
  assert.deepEqual(got, { f: true, i: true, z: true, t: true });
});

test("without the poison, allocEmpty gives a usable block and alloc still zeroes a reused one", () => {
  const got = run(
    `const a=n.allocEmpty(0,0,300000);n.fill(a,3,300000);n.free(a);` + // cached, dirty
      `const b=n.alloc(0,0,300000),h=new Float32Array(300000);n.download(b,h);` +
      `const c=n.allocEmpty(0,0,10);n.fill(c,2,10);const hc=new Float32Array(10);n.download(c,hc);` +
      `process.stdout.write(JSON.stringify({zeroed:h.every(v=>v===0),written:hc.every(v=>v===2)}))`,
    "0",
  );
  assert.deepEqual(got, { zeroed: true, written: true });
});

test("allocEmpty checks its arguments like alloc", () => {
  const raw = nat as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.throws(() => raw.allocEmpty(2, 0, 4), /allocEmpty: device must be 0 \(cpu\) or 1 \(cuda\)/);
  assert.throws(() => raw.allocEmpty(0, 5, 4), /allocEmpty: dtype must be 0/);
  assert.throws(() => raw.allocEmpty(0, 0), /allocEmpty: expected 3 arguments/);
});
