// Argument reading and validation shared by every addon entry point.
#include "args.h"

#include <cmath>

namespace addon {

namespace {
constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1
}

Args::Args(const Napi::CallbackInfo& info, const char* op, size_t count) : info_(info), op_(op) {
  if (info.Length() != count)
    type_error("expected " + std::to_string(count) + " arguments, got " +
               std::to_string(info.Length()));
}

std::string Args::describe(const std::string& message) const {
  std::string s = std::string(op_) + ": " + message;
  if (!shapes_.empty()) s += " (" + shapes_ + ")";
  return s;
}

void Args::fail(const std::string& message) const {
  throw Napi::Error::New(env(), describe(message));
}
void Args::type_error(const std::string& message) const {
  throw Napi::TypeError::New(env(), describe(message));
}
void Args::range_error(const std::string& message) const {
  throw Napi::RangeError::New(env(), describe(message));
}

void Args::shape(const char* name, int64_t value) {
  if (!shapes_.empty()) shapes_ += ", ";
  shapes_ += std::string(name) + "=" + std::to_string(value);
}

int64_t Args::integer(size_t i, const char* name, int64_t min) {
  const Napi::Value v = info_[i];
  if (!v.IsNumber()) type_error(std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > kMaxSafeInteger)
    type_error(std::string(name) + " must be an integer, got " + std::to_string(d));
  const int64_t n = int64_t(d);
  if (n < min)
    fail(std::string(name) + " must be >= " + std::to_string(min) + ", got " + std::to_string(n));
  return n;
}

float Args::number(size_t i, const char* name) {
  const Napi::Value v = info_[i];
  if (!v.IsNumber()) type_error(std::string(name) + " must be a number");
  return v.As<Napi::Number>().FloatValue();
}

bool Args::flag(size_t i, const char* name) {
  const Napi::Value v = info_[i];
  if (!v.IsBoolean()) type_error(std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

Buffer* Args::buffer(size_t i, const char* name, int dtype) {
  Buffer* b = unwrap(info_[i]);
  if (!b) type_error(std::string(name) + " must be a native buffer");
  if (b->freed) fail(std::string(name) + " was already freed");
  if (b->dtype != dtype)
    type_error(std::string(name) + " must be " + dtype_name(dtype) + ", got " +
               dtype_name(b->dtype));
  if (device_ < 0) {
    device_ = b->device;
  } else if (b->device != device_) {
    fail(std::string("all buffers must be on one device, but ") + name + " is on " +
         device_name(b->device) + " and an earlier one on " + device_name(device_));
  }
  return b;
}

Buffer* Args::optional_buffer(size_t i, const char* name, int dtype) {
  const Napi::Value v = info_[i];
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return buffer(i, name, dtype);
}

int64_t Args::mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail("size overflow");
  return r;
}

int64_t Args::add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) fail("size overflow");
  return r;
}

int64_t Args::block_extent(int64_t batch, int64_t batchStride, int64_t rows, int64_t rowStride,
                           int64_t cols) {
  if (batch == 0 || rows == 0 || cols == 0) return 0;
  return add(add(mul(batch - 1, batchStride), mul(rows - 1, rowStride)), cols);
}

void Args::extent(const Buffer* buf, const char* name, int64_t off, int64_t count) {
  if (count == 0) return;
  if (off > buf->numel || count > buf->numel - off)
    fail(std::string(name) + " needs elements [" + std::to_string(off) + ", " +
         std::to_string(off + count) + ") but has only " + std::to_string(buf->numel));
}

void Args::disjoint(const Buffer* a, const char* nameA, int64_t offA, int64_t countA,
                    const Buffer* b, const char* nameB, int64_t offB, int64_t countB) {
  if (a != b || countA == 0 || countB == 0) return;
  if (offA < offB + countB && offB < offA + countA)
    fail(std::string(nameA) + " and " + nameB + " overlap in the same buffer");
}

}  // namespace addon
