// GEMM-backed ops: matmul (2-D, optional transposes) and linear (GPT-2 Conv1D layout:
// weight [in, out], y = x W + b).
import { native } from "../native";
import { Tensor, expect, sameDevice } from "../tensor";
import { record, type BackwardContext } from "../autograd";
import { check, checkLive } from "./common";

function gemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: Tensor,
  B: Tensor,
  C: Tensor,
  beta: number,
  bias: Tensor | null = null,
): void {
  native().gemm(transA, transB, M, N, K, 1, A.buffer, 0, 0, B.buffer, 0, 0, beta, C.buffer, 0, 0, 1, bias ? bias.buffer : null);
}

/** C = op(A) op(B): A [M,K] (or [K,M] with transA), B [K,N] (or [N,K] with transB). */
export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const op = "matmul";
  checkLive(op, a, b);
  expect(op, a, "A", "f32", 2);
  expect(op, b, "B", "f32", 2);
  const device = sameDevice(op, a, b);
  const tA = !!opts.transA,
    tB = !!opts.transB;
  const [M, K] = tA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [K2, N] = tB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  check(K === K2, op, `inner dimensions differ (${K} vs ${K2}, transA=${tA}, transB=${tB})`, a, b);
  const out = Tensor.empty([M, N], { device }); // beta 0: gemm writes every element
  gemm(tA, tB, M, N, K, a, b, out, 0);
  return record(out, {
    op,
    inputs: [a, b],
    backward(ctx: BackwardContext, g) {
      const dC = g as Tensor;
      // each target is taken right before its GEMM: a and b may be one tensor
      const dA = ctx.target(a);
      if (dA) {
        const [t, beta] = [dA.grad, dA.accumulate ? 1 : 0];
        if (!tA && !tB) gemm(false, true, M, K, N, dC, b, t, beta);
        else if (!tA && tB) gemm(false, false, M, K, N, dC, b, t, beta);
        else if (tA && !tB) gemm(false, true, K, M, N, b, dC, t, beta);
        else gemm(true, true, K, M, N, b, dC, t, beta);
      }
      const dB = ctx.target(b);
      if (dB) {
        const [t, beta] = [dB.grad, dB.accumulate ? 1 : 0];
        if (!tA && !tB) gemm(true, false, K, N, M, a, dC, t, beta);
        else if (!tA && tB) gemm(true, false, N, K, M, dC, a, t, beta);
        else if (tA && !tB) gemm(false, false, K, N, M, a, dC, t, beta);
        else gemm(true, true, N, K, M, dC, a, t, beta);
      }
    },
  });
}

/**
 * A frozen weight W [in, out] held once in BF16 for the BF16 GEMMs. CPU: `fwd` holds the
 * panels of y = x W, `bwd` those of dx = dy W^T (gemmBf16, AVX512_BF16). CUDA: `fwd` is W
 * itself in BF16, two per int32 word, read as [K, N] by the forward and transposed by the
 * input gradient (gemmBf16B, tensor cores); `bwd` is null. Products accumulate in fp32; x
 * and dy are rounded to BF16 as they are read (relative error about 2^-8 per operand).
 */
export interface Bf16Weight {
  fwd: Tensor; // int32 words of BF16 panels (CPU) or of W [in, out] (CUDA)
  bwd: Tensor | null;
  inFeatures: number;
  outFeatures: number;
}

/** W (any shape, fp32) in BF16 on its device, two values per int32 word (nearest even). */
export function toBf16(w: Tensor): Tensor {
  expect("toBf16", w, "tensor", "f32");
  const out = Tensor.zeros([Math.ceil(w.numel / 2)], { dtype: "i32", device: w.device });
  native().f32ToBf16(w.buffer, w.numel, out.buffer);
  return out;
}

/** Packs a frozen weight W [in, out]: CUDA always; the CPU needs native().bf16Supported(). */
export function packBf16(w: Tensor): Bf16Weight {
  const op = "packBf16";
  expect(op, w, "weight", "f32", 2);
  check(!w.requiresGrad, op, "only a frozen weight can be packed (its fp32 values would change under training)", w);
  const [K, N] = w.shape;
  if (w.device === "cuda") return { fwd: toBf16(w), bwd: null, inFeatures: K, outFeatures: N };
  const nat = native();
  if (!nat.bf16Supported()) throw new Error(`${op}: this CPU has no AVX512_BF16 (or CLLM4REC_CPU_ISA caps it)`);
  const fwd = Tensor.zeros([nat.bf16PackedWords(K, N)], { dtype: "i32" });
  nat.bf16PackB(false, w.buffer, K, N, fwd.buffer);
  const bwd = Tensor.zeros([nat.bf16PackedWords(N, K)], { dtype: "i32" });
  nat.bf16PackB(true, w.buffer, N, K, bwd.buffer); // op(B) = W^T [out, in], stored as W
  return { fwd, bwd, inFeatures: K, outFeatures: N };
}

/** y = x W + b with x [M, in], W [in, out] (Conv1D layout), b [out] or null; `packed`:
 *  W in BF16 (frozen weight, packBf16), used for the forward and the input gradient. */
export function linear(x: Tensor, w: Tensor, b: Tensor | null, packed: Bf16Weight | null = null): Tensor {
  const { M, N, K, device } = checkLinear("linear", x, w, b, packed);
  const out = Tensor.empty([M, N], { device }); // beta 0: every element written
  if (packed && device === "cuda")
    native().gemmBf16B(false, false, M, N, K, 1, x.buffer, 0, packed.fwd.buffer, 0, out.buffer, 0, b ? b.buffer : null);
  else if (packed) native().gemmBf16(false, M, N, K, 1, x.buffer, 0, packed.fwd.buffer, 0, out.buffer, 0, b ? b.buffer : null);
  else gemm(false, false, M, N, K, x, w, out, 0, b);
  return recordLinear(out, x, w, b, packed);
}

/**
 * gelu(linear(x, w, b, packed)) as one GEMM (GPT-2's MLP c_fc): its epilogue writes the
 * pre-activation, kept for the backward, and gelu of it. Same values as the two ops (the
 * CPU bit for bit: the GEMM then gelu's pass; the CPU's BF16 panels run the two kernels) and
 * the same backward: gelu's on the saved pre-activation, then linear's.
 */
export function linearGelu(x: Tensor, w: Tensor, b: Tensor | null, packed: Bf16Weight | null = null): Tensor {
  const { M, N, K, device } = checkLinear("linearGelu", x, w, b, packed);
  const pre = Tensor.empty([M, N], { device }),
    out = Tensor.empty([M, N], { device });
  const bias = b ? b.buffer : null;
  if (packed && device === "cuda") native().gemmBf16BGelu(M, N, K, x.buffer, packed.fwd.buffer, bias, pre.buffer, out.buffer);
  else if (packed) {
    native().gemmBf16(false, M, N, K, 1, x.buffer, 0, packed.fwd.buffer, 0, pre.buffer, 0, bias);
    native().geluForward(pre.buffer, out.buffer, M * N);
  } else native().gemmGelu(M, N, K, x.buffer, w.buffer, bias, pre.buffer, out.buffer);
  recordLinear(pre, x, w, b, packed);
  return record(out, {
    op: "gelu",
    inputs: [pre],
    backward(ctx, g) {
      const d = ctx.target(pre);
      if (d) native().geluBackward(pre.buffer, (g as Tensor).buffer, d.grad.buffer, M * N, d.accumulate);
    },
  });
}

function checkLinear(op: string, x: Tensor, w: Tensor, b: Tensor | null, packed: Bf16Weight | null) {
  checkLive(op, x, w, ...(b ? [b] : []));
  expect(op, x, "x", "f32", 2);
  expect(op, w, "weight", "f32", 2);
  const device = sameDevice(op, x, w, ...(b ? [b] : []));
  const [M, K] = x.shape;
  const [K2, N] = w.shape;
  check(K === K2, op, `x has ${K} features but weight expects ${K2}`, x, w);
  if (b) check(b.shape.length === 1 && b.shape[0] === N, op, `bias must be [${N}]`, b);
  if (packed) {
    check(!w.requiresGrad && packed.fwd.device === device, op, "BF16-packed weights are for frozen weights on the same device", w);
    check(
      packed.inFeatures === K && packed.outFeatures === N && !packed.fwd.disposed,
      op,
      `packed weight is ${packed.inFeatures}x${packed.outFeatures}`,
      w,
    );
  }
  return { M, N, K, device };
}

// linear's backward: dx = dy W^T (BF16 panels when packed), dW = x^T dy, db = column sums of dy
function recordLinear(out: Tensor, x: Tensor, w: Tensor, b: Tensor | null, packed: Bf16Weight | null): Tensor {
  const [M, K] = x.shape;
  const N = w.shape[1];
  const onCuda = out.device === "cuda";
  return record(out, {
    op: "linear",
    inputs: b ? [x, w, b] : [x, w],
    backward(ctx, g) {
      const dy = g as Tensor;
      const dx = ctx.target(x);
      if (dx) {
        const [t, beta] = [dx.grad.buffer, dx.accumulate ? 1 : 0];
        if (packed && onCuda) native().gemmBf16B(false, true, M, K, N, 1, dy.buffer, 0, packed.fwd.buffer, beta, t, 0, null);
        else if (packed) native().gemmBf16(false, M, K, N, 1, dy.buffer, 0, packed.bwd!.buffer, beta, t, 0, null);
        else gemm(false, true, M, K, N, dy, w, dx.grad, beta);
      }
      const dw = ctx.target(w);
      if (dw) gemm(true, false, K, N, M, x, dy, dw.grad, dw.accumulate ? 1 : 0);
      const db = b ? ctx.target(b) : null;
      if (db) native().colSum(dy.buffer, M, N, db.grad.buffer, db.accumulate);
    },
  });
}
