// Entry points of the pointwise family (native/{cpu,cuda}/pointwise): validate, then
// dispatch. Outputs may alias inputs of the same size (the kernels read before writing).
#include "dispatch.h"

namespace addon {

namespace {

Napi::Value Undefined(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

Napi::Value Mul(const Napi::CallbackInfo& info) {
  Args a(info, "mul", 5);
  Buffer* x = a.buffer(0, "a", kF32);
  Buffer* y = a.buffer(1, "b", kF32);
  Buffer* out = a.buffer(2, "out", kF32);
  const int64_t n = a.integer(3, "n");
  a.shape("n", n);
  const bool accumulate = a.flag(4, "accumulate");
  a.extent(x, "a", 0, n);
  a.extent(y, "b", 0, n);
  a.extent(out, "out", 0, n);
  if (n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "mul", mul, data<float>(x), data<float>(y), data<float>(out), n,
                    accumulate);
  return Undefined(info);
}

// Checked arguments of y = f(x) over n elements: (x, y, n).
struct Unary {
  Buffer* x;
  Buffer* y;
  int64_t n;
};

Unary unary_args(Args& a) {
  Unary u{a.buffer(0, "x", kF32), a.buffer(1, "y", kF32), a.integer(2, "n")};
  a.shape("n", u.n);
  a.extent(u.x, "x", 0, u.n);
  a.extent(u.y, "y", 0, u.n);
  return u;
}

// Checked arguments of dx (+)= dy * f'(saved): (saved, dy, dx, n, accumulate), where
// saved is the forward's input x or output y depending on the op.
struct UnaryBackward {
  Buffer* saved;
  Buffer* dy;
  Buffer* dx;
  int64_t n;
  bool accumulate;
};

UnaryBackward unary_backward_args(Args& a, const char* saved) {
  UnaryBackward u{a.buffer(0, saved, kF32), a.buffer(1, "dy", kF32), a.buffer(2, "dx", kF32),
                  a.integer(3, "n"), a.flag(4, "accumulate")};
  a.shape("n", u.n);
  a.extent(u.saved, saved, 0, u.n);
  a.extent(u.dy, "dy", 0, u.n);
  a.extent(u.dx, "dx", 0, u.n);
  return u;
}

Napi::Value TanhForward(const Napi::CallbackInfo& info) {
  Args a(info, "tanhForward", 3);
  const Unary u = unary_args(a);
  if (u.n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "tanhForward", tanh_forward, data<float>(u.x), data<float>(u.y), u.n);
  return Undefined(info);
}

Napi::Value TanhBackward(const Napi::CallbackInfo& info) {
  Args a(info, "tanhBackward", 5);
  const UnaryBackward u = unary_backward_args(a, "y");
  if (u.n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "tanhBackward", tanh_backward, data<float>(u.saved), data<float>(u.dy),
                    data<float>(u.dx), u.n, u.accumulate);
  return Undefined(info);
}

Napi::Value LogSigmoidForward(const Napi::CallbackInfo& info) {
  Args a(info, "logSigmoidForward", 3);
  const Unary u = unary_args(a);
  if (u.n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "logSigmoidForward", log_sigmoid_forward, data<float>(u.x),
                    data<float>(u.y), u.n);
  return Undefined(info);
}

Napi::Value LogSigmoidBackward(const Napi::CallbackInfo& info) {
  Args a(info, "logSigmoidBackward", 5);
  const UnaryBackward u = unary_backward_args(a, "x");
  if (u.n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "logSigmoidBackward", log_sigmoid_backward, data<float>(u.saved),
                    data<float>(u.dy), data<float>(u.dx), u.n, u.accumulate);
  return Undefined(info);
}

Napi::Value ExpForward(const Napi::CallbackInfo& info) {
  Args a(info, "expForward", 4);
  Buffer* x = a.buffer(0, "x", kF32);
  const float scale = a.number(1, "scale");
  Buffer* y = a.buffer(2, "y", kF32);
  const int64_t n = a.integer(3, "n");
  a.shape("n", n);
  a.extent(x, "x", 0, n);
  a.extent(y, "y", 0, n);
  if (n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "expForward", exp_forward, data<float>(x), scale, data<float>(y), n);
  return Undefined(info);
}

Napi::Value ExpBackward(const Napi::CallbackInfo& info) {
  Args a(info, "expBackward", 6);
  Buffer* y = a.buffer(0, "y", kF32);
  Buffer* dy = a.buffer(1, "dy", kF32);
  const float scale = a.number(2, "scale");
  Buffer* dx = a.buffer(3, "dx", kF32);
  const int64_t n = a.integer(4, "n");
  a.shape("n", n);
  const bool accumulate = a.flag(5, "accumulate");
  a.extent(y, "y", 0, n);
  a.extent(dy, "dy", 0, n);
  a.extent(dx, "dx", 0, n);
  if (n == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "expBackward", exp_backward, data<float>(y), data<float>(dy), scale,
                    data<float>(dx), n, accumulate);
  return Undefined(info);
}

Napi::Value RowSumForward(const Napi::CallbackInfo& info) {
  Args a(info, "rowSumForward", 5);
  Buffer* X = a.buffer(0, "X", kF32);
  const int64_t R = a.integer(1, "R"), C = a.integer(2, "C");
  a.shape("R", R);
  a.shape("C", C);
  Buffer* out = a.buffer(3, "out", kF32);
  const bool accumulate = a.flag(4, "accumulate");
  const int64_t rc = a.mul(R, C);
  a.extent(X, "X", 0, rc);
  a.extent(out, "out", 0, R);
  a.disjoint(out, "out", 0, R, X, "X", 0, rc);
  if (R == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "rowSumForward", row_sum_forward, data<float>(X), R, C,
                    data<float>(out), accumulate);
  return Undefined(info);
}

Napi::Value RowSumBackward(const Napi::CallbackInfo& info) {
  Args a(info, "rowSumBackward", 5);
  Buffer* dout = a.buffer(0, "dout", kF32);
  const int64_t R = a.integer(1, "R"), C = a.integer(2, "C");
  a.shape("R", R);
  a.shape("C", C);
  Buffer* dX = a.buffer(3, "dX", kF32);
  const bool accumulate = a.flag(4, "accumulate");
  const int64_t rc = a.mul(R, C);
  a.extent(dout, "dout", 0, R);
  a.extent(dX, "dX", 0, rc);
  a.disjoint(dX, "dX", 0, rc, dout, "dout", 0, R);
  if (rc == 0) return Undefined(info);
  CLLM4REC_DISPATCH(a, "rowSumBackward", row_sum_backward, data<float>(dout), R, C,
                    data<float>(dX), accumulate);
  return Undefined(info);
}

}  // namespace

void register_pointwise(Napi::Env env, Napi::Object exports) {
  export_function(env, exports, "mul", Mul);
  export_function(env, exports, "tanhForward", TanhForward);
  export_function(env, exports, "tanhBackward", TanhBackward);
  export_function(env, exports, "expForward", ExpForward);
  export_function(env, exports, "expBackward", ExpBackward);
  export_function(env, exports, "logSigmoidForward", LogSigmoidForward);
  export_function(env, exports, "logSigmoidBackward", LogSigmoidBackward);
  export_function(env, exports, "rowSumForward", RowSumForward);
  export_function(env, exports, "rowSumBackward", RowSumBackward);
}

}  // namespace addon
