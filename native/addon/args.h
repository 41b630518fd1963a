// Argument reading and validation for one addon call. Every failure throws a JS
// TypeError (wrong type), RangeError (bad id) or Error (shapes, extents, devices)
// whose message starts with the op name and ends with the shapes seen so far.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "buffer.h"

namespace addon {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op, size_t count);

  const char* op() const { return op_; }
  Napi::Env env() const { return info_.Env(); }
  // Device shared by every buffer read so far (kCpu until a buffer is read).
  int device() const { return device_ < 0 ? kCpu : device_; }

  int64_t integer(size_t i, const char* name, int64_t min = 0);
  float number(size_t i, const char* name);
  bool flag(size_t i, const char* name);
  // A live buffer of the given dtype on the call's common device.
  Buffer* buffer(size_t i, const char* name, int dtype);
  // Same, but null/undefined gives nullptr.
  Buffer* optional_buffer(size_t i, const char* name, int dtype);

  // Records "name=value" for error messages.
  void shape(const char* name, int64_t value);
  // Checks that elements [off, off + count) lie inside buf (count may be 0).
  void extent(const Buffer* buf, const char* name, int64_t off, int64_t count);
  // count = offset of the last touched element + 1 for a batch of strided 2-D blocks.
  int64_t block_extent(int64_t batch, int64_t batchStride, int64_t rows, int64_t rowStride,
                       int64_t cols);
  int64_t mul(int64_t a, int64_t b);
  int64_t add(int64_t a, int64_t b);
  // Throws when two written/read ranges of the same buffer overlap.
  void disjoint(const Buffer* a, const char* nameA, int64_t offA, int64_t countA,
                const Buffer* b, const char* nameB, int64_t offB, int64_t countB);

  [[noreturn]] void fail(const std::string& message) const;
  [[noreturn]] void type_error(const std::string& message) const;
  [[noreturn]] void range_error(const std::string& message) const;

 private:
  std::string describe(const std::string& message) const;
  const Napi::CallbackInfo& info_;
  const char* op_;
  int device_ = -1;
  std::string shapes_;
};

}  // namespace addon
