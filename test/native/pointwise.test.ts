// Pointwise kernels (mul, tanh, exp, log-sigmoid, row sum) against float64 references,
// their backward kernels against central finite differences, plus accumulate, in place,
// extreme inputs, launch counting and validation errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose, dotF64, f32, freeAll, nat, numericGrad, read, rng, uniform, zeros } from "./helpers";

const logSigmoid64 = (v: number) => (v >= 0 ? -Math.log1p(Math.exp(-v)) : v - Math.log1p(Math.exp(v)));

test("mul: forward, accumulate and in place against float64", () => {
  const rand = rng(1);
  for (const n of [1, 7, 1000, 40000]) {
    const a = uniform(rand, n, -2, 2), b = uniform(rand, n, -2, 2), o = uniform(rand, n);
    const out = f32(o);
    nat.mul(f32(a), f32(b), out, n, true);
    assertClose(read(out), Float64Array.from(a, (v, i) => o[i] + v * b[i]), `mul acc n=${n}`, 1e-6, 1e-6);
    const ab = f32(a);
    nat.mul(ab, f32(b), ab, n, false);
    assertClose(read(ab), Float64Array.from(a, (v, i) => v * b[i]), `mul in place n=${n}`, 0, 1e-7);
  }
  freeAll();
});

// forward reference, backward kernel call (saved = x or y), the f64 function for FD
const unary = {
  tanh: {
    f: Math.tanh,
    fwd: (x: ReturnType<typeof f32>, y: ReturnType<typeof f32>, n: number) => nat.tanhForward(x, y, n),
    bwd: (x: ReturnType<typeof f32>, y: ReturnType<typeof f32>, dy: ReturnType<typeof f32>, dx: ReturnType<typeof f32>, n: number, acc: boolean) =>
      nat.tanhBackward(y, dy, dx, n, acc),
  },
  logSigmoid: {
    f: logSigmoid64,
    fwd: (x: ReturnType<typeof f32>, y: ReturnType<typeof f32>, n: number) => nat.logSigmoidForward(x, y, n),
    bwd: (x: ReturnType<typeof f32>, _y: ReturnType<typeof f32>, dy: ReturnType<typeof f32>, dx: ReturnType<typeof f32>, n: number, acc: boolean) =>
      nat.logSigmoidBackward(x, dy, dx, n, acc),
  },
  exp: {
    f: (v: number) => Math.exp(0.5 * v),
    fwd: (x: ReturnType<typeof f32>, y: ReturnType<typeof f32>, n: number) => nat.expForward(x, 0.5, y, n),
    bwd: (_x: ReturnType<typeof f32>, y: ReturnType<typeof f32>, dy: ReturnType<typeof f32>, dx: ReturnType<typeof f32>, n: number, acc: boolean) =>
      nat.expBackward(y, dy, 0.5, dx, n, acc),
  },
};

for (const [name, u] of Object.entries(unary)) {
  test(`${name}: forward against float64, backward against finite differences, accumulate`, () => {
    const rand = rng(name.length);
    for (const n of [1, 9, 40000]) {
      const x = uniform(rand, n, -4, 4);
      const xb = f32(x), yb = zeros(n);
      u.fwd(xb, yb, n);
      assertClose(read(yb), Float64Array.from(x, u.f), `${name} forward n=${n}`, 1e-6, 2e-6);
      const w = uniform(rand, n);
      const prev = uniform(rand, n);
      const dx = f32(prev);
      u.bwd(xb, yb, f32(w), dx, n, true);
      if (n <= 9) {
        // gradient of sum_i w_i f(x_i), numerically in float64
        const fd = numericGrad((z) => dotF64(w, Float64Array.from(z, u.f)), x);
        assertClose(read(dx), Float64Array.from(fd, (g, i) => g + prev[i]), `${name} backward n=${n}`, 1e-5, 1e-4);
      } else {
        const h = 1e-6;
        const want = Float64Array.from(x, (v, i) => prev[i] + w[i] * (u.f(v + h) - u.f(v - h)) / (2 * h));
        assertClose(read(dx), want, `${name} backward n=${n}`, 1e-5, 1e-4);
      }
      // plain (not accumulated) and in place over dy
      const dyb = f32(w);
      u.bwd(xb, yb, dyb, dyb, n, false);
      const h = 1e-6;
      assertClose(read(dyb), Float64Array.from(x, (v, i) => w[i] * (u.f(v + h) - u.f(v - h)) / (2 * h)), `${name} backward in place n=${n}`, 1e-5, 1e-4);
    }
    freeAll();
  });
}

test("logSigmoid: stays finite and exact at extreme inputs", () => {
  const x = [-1e4, -100, -30, -1e-8, 0, 1e-8, 30, 100, 1e4];
  const y = zeros(x.length), dx = zeros(x.length);
  nat.logSigmoidForward(f32(x), y, x.length);
  assertClose(read(y), x.map(logSigmoid64), "log sigmoid extremes", 1e-7, 1e-6);
  nat.logSigmoidBackward(f32(x), f32(x.map(() => 1)), dx, x.length, false);
  assertClose(read(dx), x.map((v) => 1 / (1 + Math.exp(v))), "d log sigmoid extremes", 1e-7, 1e-6);
  freeAll();
});

test("rowSum: forward against float64 (accumulate), backward broadcast against finite differences", () => {
  const rand = rng(5);
  for (const [R, C] of [[1, 1], [3, 5], [7, 1], [300, 257], [2, 0]]) {
    const X = uniform(rand, R * C, -2, 2), o = uniform(rand, R);
    const out = f32(o);
    nat.rowSumForward(f32(X), R, C, out, true);
    const want = Float64Array.from({ length: R }, (_, r) => {
      let s = o[r];
      for (let c = 0; c < C; c++) s += X[r * C + c];
      return s;
    });
    assertClose(read(out), want, `rowSum ${R}x${C}`, 1e-5, 1e-6);
    const plain = zeros(R);
    nat.rowSumForward(f32(X), R, C, plain, false);
    assertClose(read(plain), want.map((v, r) => v - o[r]), `rowSum plain ${R}x${C}`, 1e-5, 1e-5);
    const w = uniform(rand, R), prev = uniform(rand, R * C);
    const dX = f32(prev);
    nat.rowSumBackward(f32(w), R, C, dX, true);
    if (R * C > 0 && R * C <= 40) {
      const rowSums = (z: Float64Array) => Float64Array.from({ length: R }, (_, r) => z.subarray(r * C, (r + 1) * C).reduce((s, v) => s + v, 0));
      const fd = numericGrad((z) => dotF64(w, rowSums(z)), X);
      assertClose(read(dX), Float64Array.from(fd, (g, i) => g + prev[i]), `rowSum backward ${R}x${C}`, 1e-6, 1e-5);
    }
    const dX2 = zeros(R * C);
    nat.rowSumBackward(f32(w), R, C, dX2, false);
    assertClose(read(dX2), Float64Array.from({ length: R * C }, (_, i) => w[Math.floor(i / C)]), `rowSum backward plain ${R}x${C}`, 0, 0);
  }
  freeAll();
});

test("pointwise kernels count launches and reject bad arguments naming the op", () => {
  const x = f32([1, 2, 3]), y = zeros(3), s = zeros(2);
  nat.resetStats();
  nat.mul(x, x, y, 3, false);
  nat.tanhForward(x, y, 3);
  nat.tanhBackward(y, x, y, 3, true);
  nat.expForward(x, 1, y, 3);
  nat.expBackward(y, x, 1, y, 3, true);
  nat.logSigmoidForward(x, y, 3);
  nat.logSigmoidBackward(x, x, y, 3, true);
  nat.rowSumForward(x, 1, 3, s, false);
  nat.rowSumBackward(s, 1, 3, y, false);
  const l = nat.stats().launches;
  for (const k of ["mul", "tanhForward", "tanhBackward", "expForward", "expBackward", "logSigmoidForward",
    "logSigmoidBackward", "rowSumForward", "rowSumBackward"]) assert.equal(l[k], 1, `${k} launches`);
  const naming = (op: string, re: RegExp) => (e: Error) => e.message.startsWith(`${op}:`) && re.test(e.message);
  assert.throws(() => nat.mul(x, x, y, 4, false), naming("mul", /n=4/));
  assert.throws(() => nat.tanhForward(x, s, 3), naming("tanhForward", /y/));
  assert.throws(() => nat.logSigmoidBackward(x, x, s, 3, false), naming("logSigmoidBackward", /dx/));
  assert.throws(() => nat.expForward(x, 1, y, -1), naming("expForward", /n must be >= 0/));
  assert.throws(() => nat.rowSumForward(x, 2, 2, s, false), naming("rowSumForward", /R=2.*C=2|X/));
  assert.throws(() => nat.rowSumForward(x, 1, 2, x, false), naming("rowSumForward", /overlap|out/));
  assert.throws(() => nat.rowSumBackward(s, 2, 2, y, false), naming("rowSumBackward", /dX/));
  const anyNat = nat as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.throws(() => anyNat.tanhBackward(y, x, y, 3, 1), (e: Error) => e instanceof TypeError && e.message.startsWith("tanhBackward:"));
  freeAll();
});
