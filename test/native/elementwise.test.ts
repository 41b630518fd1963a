// Elementwise kernels (add, mul, tanh, exp, log-sigmoid) against float64 references,
// their backward kernels against central finite differences, plus accumulate, in place
// and extreme inputs.
import { test } from "node:test";
import { assertClose, f32, freeAll, nat, numericGrad, read, rng, uniform, zeros, dotF64 } from "./helpers";

test("add: out = a*alpha + b*beta, with and without b, accumulate and in place", () => {
  const rand = rng(1);
  for (const n of [1, 7, 33, 1023, 70001]) {
    const a = uniform(rand, n),
      b = uniform(rand, n),
      o = uniform(rand, n);
    const out = f32(o);
    nat.add(f32(a), 0.5, f32(b), -2, out, n, false);
    assertClose(
      read(out),
      Array.from(a, (x, i) => 0.5 * x - 2 * b[i]),
      `add n=${n}`,
    );
    const acc = f32(o);
    nat.add(f32(a), 3, null, 0, acc, n, true);
    assertClose(
      read(acc),
      Array.from(o, (x, i) => x + 3 * a[i]),
      `add accumulate n=${n}`,
    );
    const inPlace = f32(a);
    nat.add(inPlace, 2, f32(b), 1, inPlace, n, false);
    assertClose(
      read(inPlace),
      Array.from(a, (x, i) => 2 * x + b[i]),
      `add in place n=${n}`,
    );
  }
  freeAll();
});

const logSigmoid64 = (v: number) => (v >= 0 ? -Math.log1p(Math.exp(-v)) : v - Math.log1p(Math.exp(v)));

test("mul: forward, accumulate and in place against float64", () => {
  const rand = rng(1);
  for (const n of [1, 7, 1000, 40000]) {
    const a = uniform(rand, n, -2, 2),
      b = uniform(rand, n, -2, 2),
      o = uniform(rand, n);
    const out = f32(o);
    nat.mul(f32(a), f32(b), out, n, true);
    assertClose(
      read(out),
      Float64Array.from(a, (v, i) => o[i] + v * b[i]),
      `mul acc n=${n}`,
      1e-6,
      1e-6,
    );
    const ab = f32(a);
    nat.mul(ab, f32(b), ab, n, false);
    assertClose(
      read(ab),
      Float64Array.from(a, (v, i) => v * b[i]),
      `mul in place n=${n}`,
      0,
      1e-7,
    );
  }
  freeAll();
});

// forward reference, backward kernel call (saved = x or y), the f64 function for FD
const unary = {
  tanh: {
    f: Math.tanh,
    fwd: (x: ReturnType<typeof f32>, y: ReturnType<typeof f32>, n: number) => nat.tanhForward(x, y, n),
    bwd: (
      _x: ReturnType<typeof f32>,
      y: ReturnType<typeof f32>,
      dy: ReturnType<typeof f32>,
      dx: ReturnType<typeof f32>,
      n: number,
      acc: boolean,
    ) => nat.tanhBackward(y, dy, dx, n, acc),
  },
  logSigmoid: {
    f: logSigmoid64,
    fwd: (x: ReturnType<typeof f32>, y: ReturnType<typeof f32>, n: number) => nat.logSigmoidForward(x, y, n),
    bwd: (
      x: ReturnType<typeof f32>,
      _y: ReturnType<typeof f32>,
      dy: ReturnType<typeof f32>,
      dx: ReturnType<typeof f32>,
      n: number,
      acc: boolean,
    ) => nat.logSigmoidBackward(x, dy, dx, n, acc),
  },
  exp: {
    f: (v: number) => Math.exp(0.5 * v),
    fwd: (x: ReturnType<typeof f32>, y: ReturnType<typeof f32>, n: number) => nat.expForward(x, 0.5, y, n),
    bwd: (
      _x: ReturnType<typeof f32>,
      y: ReturnType<typeof f32>,
      dy: ReturnType<typeof f32>,
      dx: ReturnType<typeof f32>,
      n: number,
      acc: boolean,
    ) => nat.expBackward(y, dy, 0.5, dx, n, acc),
  },
};

for (const [name, u] of Object.entries(unary)) {
  test(`${name}: forward against float64, backward against finite differences, accumulate`, () => {
    const rand = rng(name.length);
    for (const n of [1, 9, 40000]) {
      const x = uniform(rand, n, -4, 4);
      const xb = f32(x),
        yb = zeros(n);
      u.fwd(xb, yb, n);
      assertClose(read(yb), Float64Array.from(x, u.f), `${name} forward n=${n}`, 1e-6, 2e-6);
      const w = uniform(rand, n);
      const prev = uniform(rand, n);
      const dx = f32(prev);
      u.bwd(xb, yb, f32(w), dx, n, true);
      if (n <= 9) {
        // gradient of sum_i w_i f(x_i), numerically in float64
        const fd = numericGrad((z) => dotF64(w, Float64Array.from(z, u.f)), x);
        assertClose(
          read(dx),
          Float64Array.from(fd, (g, i) => g + prev[i]),
          `${name} backward n=${n}`,
          1e-5,
          1e-4,
        );
      } else {
        const h = 1e-6;
        const want = Float64Array.from(x, (v, i) => prev[i] + (w[i] * (u.f(v + h) - u.f(v - h))) / (2 * h));
        assertClose(read(dx), want, `${name} backward n=${n}`, 1e-5, 1e-4);
      }
      // plain (not accumulated) and in place over dy
      const dyb = f32(w);
      u.bwd(xb, yb, dyb, dyb, n, false);
      const h = 1e-6;
      assertClose(
        read(dyb),
        Float64Array.from(x, (v, i) => (w[i] * (u.f(v + h) - u.f(v - h))) / (2 * h)),
        `${name} backward in place n=${n}`,
        1e-5,
        1e-4,
      );
    }
    freeAll();
  });
}

test("logSigmoid: stays finite and exact at extreme inputs", () => {
  const x = [-1e4, -100, -30, -1e-8, 0, 1e-8, 30, 100, 1e4];
  const y = zeros(x.length),
    dx = zeros(x.length);
  nat.logSigmoidForward(f32(x), y, x.length);
  assertClose(read(y), x.map(logSigmoid64), "log sigmoid extremes", 1e-7, 1e-6);
  nat.logSigmoidBackward(f32(x), f32(x.map(() => 1)), dx, x.length, false);
  assertClose(
    read(dx),
    x.map((v) => 1 / (1 + Math.exp(v))),
    "d log sigmoid extremes",
    1e-7,
    1e-6,
  );
  freeAll();
});
