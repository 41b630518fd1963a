// Embedding rows: gather (forward) and deterministic scatter-add (backward).
#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "parallel.h"

namespace cpu {

void gather_rows(const float* table, int64_t rows, int64_t d, const int32_t* ids, int64_t n,
                 int64_t idBase, float* out) {
#pragma omp parallel for schedule(static) if (n * d >= detail::kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = int64_t(ids[i]) - idBase;
    if (r < 0 || r >= rows) continue;  // ids of another table: left for that table's gather
    std::memcpy(out + i * d, table + r * d, sizeof(float) * d);
  }
}

void scatter_add_rows(float* dtable, int64_t rows, int64_t d, const int32_t* ids, int64_t n,
                      int64_t idBase, const float* dout) {
  // Threads own column ranges and walk ids in order: duplicates sum in a fixed order.
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (d + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n * d >= detail::kParallelGrain)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock, c1 = std::min(d, c0 + kBlock);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = int64_t(ids[i]) - idBase;
      if (r < 0 || r >= rows) continue;
      float* dst = dtable + r * d;
      const float* src = dout + i * d;
      for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
    }
  }
}

}  // namespace cpu
