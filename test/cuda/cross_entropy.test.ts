// CUDA fused softmax cross-entropy against the CPU kernel (masked rows, in-place
// backward), up to C = 100,003; a bad target is found by the kernel and thrown at the next
// sync, and the calls themselves copy nothing back. Skipped without a GPU.
import assert from "node:assert/strict";
import { test, after } from "node:test";
import {
  both,
  download,
  expectClose,
  freeAll,
  gpuDevice,
  nat,
  onSimulator,
  rng,
  skipCuda,
  twinF32,
  twinFill,
  twinI32,
  uniform,
  TOL_REDUCTION,
} from "./twin";

after(() => {
  if (!skipCuda) freeAll();
});

const shapes: Array<[number, number]> = [
  [1, 1],
  [7, 33],
  [33, 7],
  [5, 1023],
  [9, 50257],
  [3, 100003],
];

test("cuda crossEntropy forward and backward with masked rows", { skip: skipCuda }, () => {
  const rand = rng(1);
  for (const [R, C] of shapes) {
    const logits = twinF32(uniform(rand, R * C, -8, 8));
    const target = twinI32(Array.from({ length: R }, (_, r) => (r % 3 === 1 ? -1 : Math.floor(rand() * C))));
    const loss = twinFill(R, NaN),
      lse = twinFill(R, NaN);
    both((x) => nat().crossEntropyForward(x(logits), x(target), x(loss), x(lse), R, C));
    expectClose(loss, `xent loss ${R}x${C}`, TOL_REDUCTION);
    expectClose(lse, `xent lse ${R}x${C}`, TOL_REDUCTION);
    const dloss = twinF32(uniform(rand, R, 0.5, 2));
    const dlogits = twinF32(uniform(rand, R * C));
    both((x) => nat().crossEntropyBackward(x(logits), x(target), x(lse), x(dloss), x(dlogits), R, C, true));
    expectClose(dlogits, `xent dlogits acc ${R}x${C}`, TOL_REDUCTION, 1e-6);
    both((x) => nat().crossEntropyBackward(x(logits), x(target), x(lse), x(dloss), x(logits), R, C, false));
    expectClose(logits, `xent dlogits in place ${R}x${C}`, TOL_REDUCTION, 1e-6);
  }
});

test("cuda crossEntropy: a target >= C is a RangeError at the next sync, naming op, row and value", { skip: skipCuda }, () => {
  const R = 4,
    C = 5,
    rand = rng(2);
  const logits = twinF32(uniform(rand, R * C, -3, 3));
  const target = twinI32([0, 7, -1, 2]);
  const loss = twinFill(R, 0),
    lse = twinFill(R, 0);
  // the CPU twin still rejects it at the call, before writing anything
  assert.throws(
    () => nat().crossEntropyForward(logits.cpu, target.cpu, loss.cpu, lse.cpu, R, C),
    (e: Error) => e instanceof RangeError && /^crossEntropyForward: target 7 of row 1 is outside \[0, 5\)/.test(e.message),
  );
  nat().crossEntropyForward(logits.gpu, target.gpu, loss.gpu, lse.gpu, R, C); // queued: no sync here
  assert.throws(
    () => download(loss.gpu),
    (e: Error) =>
      e instanceof RangeError &&
      /^download: crossEntropyForward: target 7 of row 1 is outside \[0, 5\) \(found on the device/.test(e.message),
  );
  // reported once: the status is cleared, the row is NaN, the good rows are right
  const got = download(loss.gpu);
  assert.ok(Number.isNaN(got[1]), `loss[1] = ${got[1]}, expected NaN`);
  const goodTarget = twinI32([0, -1, -1, 2]);
  nat().crossEntropyForward(logits.cpu, goodTarget.cpu, loss.cpu, lse.cpu, R, C);
  for (const r of [0, 2, 3])
    assert.ok(Math.abs(got[r] - download(loss.cpu)[r]) <= 1e-5, `loss[${r}]: gpu ${got[r]}, cpu ${download(loss.cpu)[r]}`);

  // backward: synchronize() is the explicit check; an earlier bad launch wins over a later one
  const dloss = twinFill(R, 1),
    dlogits = twinFill(R * C, 0);
  nat().crossEntropyForward(logits.gpu, goodTarget.gpu, loss.gpu, lse.gpu, R, C);
  nat().crossEntropyBackward(logits.gpu, twinI32([0, 1, -1, 9]).gpu, lse.gpu, dloss.gpu, dlogits.gpu, R, C, false);
  nat().crossEntropyBackward(logits.gpu, target.gpu, lse.gpu, dloss.gpu, dlogits.gpu, R, C, true);
  assert.throws(
    () => nat().synchronize(),
    (e: Error) => e instanceof RangeError && /^synchronize: crossEntropyBackward: target 9 of row 3 is outside \[0, 5\)/.test(e.message),
  );
  nat().synchronize(); // cleared
  const dx = download(dlogits.gpu);
  for (const r of [1, 3])
    for (let c = 0; c < C; c++) assert.ok(Number.isNaN(dx[r * C + c]), `dlogits[${r}, ${c}] = ${dx[r * C + c]}, expected NaN`);
  assert.ok(dx.slice(0, C).every(Number.isFinite), "dlogits row 0 is finite");
});

test("cuda crossEntropy: forward and backward copy nothing to the host and never drain the stream", {
  skip: skipCuda || (onSimulator ? false : "counts copies in the simulator's runtime (stats().cudaSim)"),
}, () => {
  assert.equal(gpuDevice, 1);
  const R = 6,
    C = 1000,
    rand = rng(3);
  const logits = twinF32(uniform(rand, R * C, -4, 4));
  const target = twinI32([3, -1, 999, 0, 500, 17]);
  const loss = twinFill(R, 0),
    lse = twinFill(R, 0),
    dloss = twinFill(R, 1),
    dlogits = twinFill(R * C, 0);
  nat().synchronize();
  const sim = () => nat().stats().cudaSim!;
  const before = sim();
  for (let step = 0; step < 3; step++) {
    nat().crossEntropyForward(logits.gpu, target.gpu, loss.gpu, lse.gpu, R, C);
    nat().crossEntropyBackward(logits.gpu, target.gpu, lse.gpu, dloss.gpu, dlogits.gpu, R, C, step > 0);
  }
  const mid = sim();
  assert.equal(mid.launches - before.launches, 6, "6 kernel launches");
  assert.equal(mid.d2hCopies - before.d2hCopies, 0, "device-to-host copies during 3 forward+backward calls");
  assert.equal(mid.streamSyncs - before.streamSyncs, 0, "stream syncs during 3 forward+backward calls");
  // the loss read is the one sync: it also reads the status block, in the same drain
  download(loss.gpu);
  const read1 = sim();
  assert.equal(read1.d2hCopies - mid.d2hCopies, 2, "loss read: the loss and the status block");
  assert.equal(read1.streamSyncs - mid.streamSyncs, 1, "loss read: one stream sync");
  download(loss.gpu); // nothing launched since: the status is not read again
  assert.equal(sim().d2hCopies - read1.d2hCopies, 1, "second read: the loss only");
});
