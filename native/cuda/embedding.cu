// Embedding rows: gather (forward) and deterministic scatter-add (backward).
// scatter_add_rows: integer atomics find each table row's first occurrence and count;
// then one block per first occurrence walks the later ids in order and adds their
// rows, so duplicates sum in index order exactly like the CPU twin (no float atomics).
#include <climits>
#include "common.cuh"

namespace cuda {
namespace {

__global__ void gather_rows_kernel(const float* table, int64_t rows, int64_t d,
                                   const int32_t* ids, int64_t n, int64_t idBase, float* out) {
  const int64_t total = n * d;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / d, c = e % d;
    const int64_t r = int64_t(ids[i]) - idBase;
    if (r < 0 || r >= rows) continue;  // ids of another table: left for that table's gather
    out[e] = table[r * d + c];
  }
}

__global__ void init_first_kernel(int32_t* first, int32_t* count, int64_t rows) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows;
       r += int64_t(gridDim.x) * blockDim.x) {
    first[r] = INT_MAX;
    count[r] = 0;
  }
}

// Integer atomics are order-independent, so first/count are deterministic.
__global__ void first_and_count_kernel(const int32_t* ids, int64_t n, int64_t rows,
                                       int64_t idBase, int32_t* first, int32_t* count) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = int64_t(ids[i]) - idBase;
    if (r < 0 || r >= rows) continue;
    atomicMin(first + r, static_cast<int32_t>(i));
    atomicAdd(count + r, 1);
  }
}

constexpr int kScanThreads = 256;
constexpr int kColsPerThread = 4;
constexpr int kIdsPerStep = 1024;  // ids examined per step: 32 ballot words

// One block per position i; only the first occurrence of a row does work. It scans
// ids[i..n) in order (ballot bitmasks in shared memory) until it has seen every
// occurrence, adding dout rows in ascending index order into a register accumulator.
__global__ void scatter_add_rows_kernel(float* dtable, int64_t rows, int64_t d,
                                        const int32_t* ids, int64_t n, int64_t idBase,
                                        const float* dout, const int32_t* first,
                                        const int32_t* count) {
  __shared__ unsigned masks[kIdsPerStep / 32];
  const int64_t i = blockIdx.x;
  const int64_t r = int64_t(ids[i]) - idBase;
  if (r < 0 || r >= rows || first[r] != i) return;  // uniform across the block
  const int32_t id = ids[i];
  const int total = count[r];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  constexpr int kColsPerPass = kScanThreads * kColsPerThread;
  for (int64_t c0 = 0; c0 < d; c0 += kColsPerPass) {
    float acc[kColsPerThread];
#pragma unroll
    for (int k = 0; k < kColsPerThread; ++k) {
      const int64_t c = c0 + threadIdx.x + int64_t(k) * kScanThreads;
      acc[k] = c < d ? dtable[r * d + c] : 0.0f;
    }
    int seen = 0;
    for (int64_t j0 = i; j0 < n && seen < total; j0 += kIdsPerStep) {
      __syncthreads();  // the previous step's masks have been read
      for (int w = warp; w < kIdsPerStep / 32; w += kScanThreads / 32) {
        const int64_t j = j0 + w * 32 + lane;
        const bool hit = j < n && ids[j] == id;
        const unsigned m = __ballot_sync(0xffffffffu, hit);
        if (lane == 0) masks[w] = m;
      }
      __syncthreads();
      for (int w = 0; w < kIdsPerStep / 32 && seen < total; ++w) {
        unsigned m = masks[w];
        while (m) {
          const int bit = __ffs(m) - 1;
          m &= m - 1;
          const float* src = dout + (j0 + w * 32 + bit) * d;
#pragma unroll
          for (int k = 0; k < kColsPerThread; ++k) {
            const int64_t c = c0 + threadIdx.x + int64_t(k) * kScanThreads;
            if (c < d) acc[k] += src[c];
          }
          ++seen;
        }
      }
    }
#pragma unroll
    for (int k = 0; k < kColsPerThread; ++k) {
      const int64_t c = c0 + threadIdx.x + int64_t(k) * kScanThreads;
      if (c < d) dtable[r * d + c] = acc[k];
    }
  }
}

}  // namespace

void gather_rows(const float* table, int64_t rows, int64_t d, const int32_t* ids, int64_t n,
                 int64_t idBase, float* out) {
  if (n <= 0 || d <= 0) return;
  gather_rows_kernel<<<detail::grid_for(n * d), detail::kThreads, 0, detail::stream()>>>(
      table, rows, d, ids, n, idBase, out);
  check_last("gather_rows");
}

void scatter_add_rows(float* dtable, int64_t rows, int64_t d, const int32_t* ids, int64_t n,
                      int64_t idBase, const float* dout) {
  if (n <= 0 || d <= 0 || rows <= 0) return;
  if (n > INT_MAX)
    throw std::runtime_error("cuda::scatter_add_rows: n=" + std::to_string(n) +
                             " ids exceed the int32 index range");
  detail::Scratch scratch(sizeof(int32_t) * 2 * rows);
  int32_t* first = scratch.as<int32_t>();
  int32_t* count = first + rows;
  init_first_kernel<<<detail::grid_for(rows), detail::kThreads, 0, detail::stream()>>>(
      first, count, rows);
  check_last("scatter_add_rows");
  first_and_count_kernel<<<detail::grid_for(n), detail::kThreads, 0, detail::stream()>>>(
      ids, n, rows, idBase, first, count);
  check_last("scatter_add_rows");
  scatter_add_rows_kernel<<<static_cast<unsigned>(n), kScanThreads, 0, detail::stream()>>>(
      dtable, rows, d, ids, n, idBase, dout, first, count);
  check_last("scatter_add_rows");
}

}  // namespace cuda
