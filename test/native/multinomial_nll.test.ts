// Fused multinomial NLL: forward against float64, backward against finite differences
// (small C) and the float64 closed form (C = 20,011).
import { test } from "node:test";
import { assertClose, dotF64, f32, freeAll, lse64, nat, numericGrad, read, rng, uniform, zeros } from "./helpers";

function multinomial64(x: ArrayLike<number>, t: ArrayLike<number>, R: number, C: number): Float64Array {
  return Float64Array.from({ length: R }, (_, r) => {
    const l = lse64(x, r * C, C);
    let s = 0;
    for (let c = 0; c < C; c++) if (t[r * C + c] !== 0) s -= t[r * C + c] * (x[r * C + c] - l);
    return s;
  });
}

test("multinomialNll: multi-hot and count targets, forward and FD backward", () => {
  const rand = rng(72);
  const R = 4,
    C = 9;
  const x = uniform(rand, R * C, -3, 3);
  const t = new Float32Array(R * C);
  for (let i = 0; i < t.length; i++) t[i] = rand() < 0.3 ? 1 : 0;
  t[2 * C + 4] = 2.5; // a non-binary weight
  for (let c = 0; c < C; c++) t[3 * C + c] = 0; // a row with no targets: zero loss and gradient
  const w = uniform(rand, R);
  const xb = f32(x),
    tb = f32(t),
    loss = zeros(R),
    lse = zeros(R);
  nat.multinomialNllForward(xb, tb, loss, lse, R, C);
  assertClose(read(loss), multinomial64(x, t, R, C), "multinomial loss", 1e-5, 1e-5);
  const d0 = uniform(rand, R * C);
  const d = f32(d0);
  nat.multinomialNllBackward(xb, tb, lse, f32(w), d, R, C, true);
  const g = numericGrad((v) => dotF64(w, multinomial64(v, t, R, C)), x);
  assertClose(
    read(d),
    Array.from(g, (v, i) => v + d0[i]),
    "multinomial FD",
    1e-5,
    1e-4,
  );
  freeAll();
});

test("multinomialNll: 20 users x 20,011 items, closed-form backward in place", () => {
  const rand = rng(73);
  const R = 20,
    C = 20011;
  const x = uniform(rand, R * C, -4, 4);
  const t = new Float32Array(R * C);
  for (let i = 0; i < t.length; i++) t[i] = rand() < 0.002 ? 1 : 0;
  const dloss = uniform(rand, R);
  const xb = f32(x),
    tb = f32(t),
    loss = zeros(R),
    lse = zeros(R);
  nat.multinomialNllForward(xb, tb, loss, lse, R, C);
  assertClose(read(loss), multinomial64(x, t, R, C), "multinomial loss large", 1e-4, 1e-5);
  const want = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    const l = lse64(x, r * C, C);
    let st = 0;
    for (let c = 0; c < C; c++) st += t[r * C + c];
    for (let c = 0; c < C; c++) want[r * C + c] = dloss[r] * (Math.exp(x[r * C + c] - l) * st - t[r * C + c]);
  }
  nat.multinomialNllBackward(xb, tb, lse, f32(dloss), xb, R, C, false);
  assertClose(read(xb), want, "multinomial dlogits in place", 1e-7, 1e-4);
  freeAll();
});
