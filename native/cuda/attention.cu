// Causal multi-head attention with a key-padding mask and a key prefix (Tk >= Tq).
// One warp per query (forward, dq) or per key (dk, dv): lanes take 32 keys/queries at
// a time for the dot products, then take head dimensions to accumulate rows, so no
// T x T matrix is stored. The forward keeps an online (rescaled) softmax and saves the
// log-sum-exp; the backward recomputes probabilities from it. dk/dv are accumulated
// per key by a second kernel, so the backward is deterministic and needs no atomics.
#include <atomic>
#include <cstdlib>

#include "attention_flash.cuh"
#include "common.cuh"
#include "philox.h"

namespace cuda {
namespace {

constexpr int kWarps = 4;      // queries (or keys) per block
constexpr int kMaxDh = 128;    // head dims held as 4 values per lane
constexpr int kPerLane = kMaxDh / 32;

__device__ __forceinline__ float dot_row(const float* smemVec, const float* row, int64_t Dh) {
  float s = 0.0f;
  for (int64_t d = 0; d < Dh; ++d) s += smemVec[d] * row[d];
  return s;
}

__device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

__device__ __forceinline__ bool key_valid(const int32_t* mask, int64_t j) {
  return mask == nullptr || mask[j] != 0;
}

// Dropout mask of probability (row, j), row = (b*H + h)*Tq + i: 1 without dropout.
__device__ __forceinline__ float drop_mask(const philox::Dropout& d, int64_t row, int64_t Tk,
                                           int64_t j) {
  return d.active() ? d.mask(uint64_t(row * Tk + j)) : 1.0f;
}

__global__ void __launch_bounds__(kWarps * 32)
    attention_forward_kernel(const float* q, int64_t ldq, const float* k, const float* v,
                             int64_t ldk, const int32_t* keyMask, float* out, float* lse,
                             int64_t H, int64_t Tq, int64_t Tk, int64_t Dh, float scale,
                             philox::Dropout drop) {
  __shared__ float qs[kWarps][kMaxDh];
  __shared__ float ps[kWarps][32];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t i = int64_t(blockIdx.x) * kWarps + warp, h = blockIdx.y, b = blockIdx.z;
  if (i >= Tq) return;  // per-warp exit: only __syncwarp is used below
  const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
  const int64_t D = H * Dh, p = Tk - Tq + i;
  const float* kb = k + b * Tk * ldk + h * Dh;
  const float* vb = v + b * Tk * ldk + h * Dh;
  float* oi = out + (b * Tq + i) * D + h * Dh;
  float* lsei = lse + (b * H + h) * Tq + i;
  const float* qi = q + (b * Tq + i) * ldq + h * Dh;
  for (int64_t d = lane; d < Dh; d += 32) qs[warp][d] = qi[d];
  __syncwarp();

  float m = -INFINITY, l = 0.0f;
  float acc[kPerLane] = {};
  // A query whose own position is masked sees no key (the loop does not run).
  const int64_t last = key_valid(mask, p) ? p : -1;
  for (int64_t j0 = 0; j0 <= last; j0 += 32) {
    const int64_t j = j0 + lane;
    float s = -INFINITY;
    if (j <= last && key_valid(mask, j)) s = scale * dot_row(qs[warp], kb + j * ldk, Dh);
    const float mNew = fmaxf(m, detail::warp_max(s));
    if (mNew == -INFINITY) continue;  // every key so far masked (warp-uniform)
    const float corr = expf(m - mNew);  // 0 while m is -inf
    const float e = s == -INFINITY ? 0.0f : expf(s - mNew);
    l = l * corr + detail::warp_sum(e);
    // dropout weights v by the dropped probability; l (the softmax sum) stays undropped
    ps[warp][lane] = j <= last ? e * drop_mask(drop, (b * H + h) * Tq + i, Tk, j) : e;
    __syncwarp();
    const int64_t n = imin(32, last - j0 + 1);
#pragma unroll
    for (int t = 0; t < kPerLane; ++t) acc[t] *= corr;
    for (int64_t jj = 0; jj < n; ++jj) {
      const float w = ps[warp][jj];  // 0 for masked keys; 0 * NaN/Inf stays NaN, as on the CPU
      const float* vr = vb + (j0 + jj) * ldk;
#pragma unroll
      for (int t = 0; t < kPerLane; ++t) {
        const int64_t d = lane + 32 * t;
        if (d < Dh) acc[t] += w * vr[d];
      }
    }
    __syncwarp();  // ps is rewritten by the next chunk
    m = mNew;
  }
  const bool none = m == -INFINITY;  // sees no key: zeros and lse = -inf
  const float inv = none ? 0.0f : 1.0f / l;
#pragma unroll
  for (int t = 0; t < kPerLane; ++t) {
    const int64_t d = lane + 32 * t;
    if (d < Dh) oi[d] = acc[t] * inv;
  }
  if (lane == 0) *lsei = none ? -INFINITY : m + logf(l);
}

// dq for one query per warp; also saves rowDot = dout . out for the dk/dv kernel.
__global__ void __launch_bounds__(kWarps * 32)
    attention_backward_dq_kernel(const float* dout, const float* q, int64_t ldq, const float* k,
                                 const float* v, int64_t ldk, const int32_t* keyMask,
                                 const float* out, const float* lse, float* dq, float* rowDots,
                                 int64_t H, int64_t Tq, int64_t Tk, int64_t Dh, float scale,
                                 philox::Dropout drop) {
  __shared__ float qs[kWarps][kMaxDh];
  __shared__ float dos[kWarps][kMaxDh];
  __shared__ float ds_[kWarps][32];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t i = int64_t(blockIdx.x) * kWarps + warp, h = blockIdx.y, b = blockIdx.z;
  if (i >= Tq) return;
  const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
  const int64_t D = H * Dh, p = Tk - Tq + i;
  const int64_t row = (b * H + h) * Tq + i;
  const float l = lse[row];
  if (l == -INFINITY) {  // output was zeros, independent of every input
    if (lane == 0) rowDots[row] = 0.0f;
    return;
  }
  const float* qi = q + (b * Tq + i) * ldq + h * Dh;
  const float* doi = dout + (b * Tq + i) * D + h * Dh;
  const float* oi = out + (b * Tq + i) * D + h * Dh;
  float partial = 0.0f;
  for (int64_t d = lane; d < Dh; d += 32) {
    qs[warp][d] = qi[d];
    dos[warp][d] = doi[d];
    partial += doi[d] * oi[d];
  }
  const float rowDot = detail::warp_sum(partial);  // sum_j P_j (dout . v_j)
  if (lane == 0) rowDots[row] = rowDot;
  __syncwarp();
  const float* kb = k + b * Tk * ldk + h * Dh;
  const float* vb = v + b * Tk * ldk + h * Dh;
  const int64_t last = key_valid(mask, p) ? p : -1;
  float acc[kPerLane] = {};
  for (int64_t j0 = 0; j0 <= last; j0 += 32) {
    const int64_t j = j0 + lane;
    float ds = 0.0f;
    if (j <= last) {  // a masked key has P = 0 but still multiplies dout . v_j (CPU twin)
      const float pr =
          key_valid(mask, j) ? expf(scale * dot_row(qs[warp], kb + j * ldk, Dh) - l) : 0.0f;
      // dP_j = m_j (dout . v_j) under the dropout mask m; rowDot = dout . out still
      const float dp = drop_mask(drop, row, Tk, j) * dot_row(dos[warp], vb + j * ldk, Dh);
      ds = pr * (dp - rowDot) * scale;
    }
    ds_[warp][lane] = ds;
    __syncwarp();
    const int64_t n = imin(32, last - j0 + 1);
    for (int64_t jj = 0; jj < n; ++jj) {
      const float w = ds_[warp][jj];  // no zero skip: NaN/Inf propagate as on the CPU
      const float* kr = kb + (j0 + jj) * ldk;
#pragma unroll
      for (int t = 0; t < kPerLane; ++t) {
        const int64_t d = lane + 32 * t;
        if (d < Dh) acc[t] += w * kr[d];
      }
    }
    __syncwarp();
  }
  float* dqi = dq + (b * Tq + i) * ldq + h * Dh;
#pragma unroll
  for (int t = 0; t < kPerLane; ++t) {
    const int64_t d = lane + 32 * t;
    if (d < Dh) dqi[d] += acc[t];
  }
}

// dk and dv for one key per warp, summing over the queries that see it in order.
__global__ void __launch_bounds__(kWarps * 32)
    attention_backward_dkv_kernel(const float* dout, const float* q, int64_t ldq,
                                  const float* k, const float* v, int64_t ldk,
                                  const int32_t* keyMask, const float* lse,
                                  const float* rowDots, float* dk, float* dv, int64_t H,
                                  int64_t Tq, int64_t Tk, int64_t Dh, float scale,
                                  philox::Dropout drop) {
  __shared__ float ks[kWarps][kMaxDh];
  __shared__ float vs[kWarps][kMaxDh];
  __shared__ float ps[kWarps][32];
  __shared__ float ds_[kWarps][32];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t j = int64_t(blockIdx.x) * kWarps + warp, h = blockIdx.y, b = blockIdx.z;
  if (j >= Tk) return;
  const int32_t* mask = keyMask ? keyMask + b * Tk : nullptr;
  if (!key_valid(mask, j)) return;  // a masked key gets no attention and no gradient
  const int64_t D = H * Dh;
  const float* kj = k + (b * Tk + j) * ldk + h * Dh;
  const float* vj = v + (b * Tk + j) * ldk + h * Dh;
  for (int64_t d = lane; d < Dh; d += 32) {
    ks[warp][d] = kj[d];
    vs[warp][d] = vj[d];
  }
  __syncwarp();
  // Query i sits at key position Tk - Tq + i and sees key j when that is >= j.
  const int64_t i0 = imax(0, j - (Tk - Tq));
  float dkAcc[kPerLane] = {}, dvAcc[kPerLane] = {};
  for (int64_t c0 = i0; c0 < Tq; c0 += 32) {
    const int64_t i = c0 + lane;
    float pr = 0.0f, ds = 0.0f;
    if (i < Tq) {
      const int64_t row = (b * H + h) * Tq + i;
      const float l = lse[row];
      if (l != -INFINITY) {  // -inf: own position masked, the query saw nothing
        const float* qi = q + (b * Tq + i) * ldq + h * Dh;
        const float* doi = dout + (b * Tq + i) * D + h * Dh;
        const float m = drop_mask(drop, row, Tk, j);
        const float p0 = expf(scale * dot_row(ks[warp], qi, Dh) - l);
        ds = p0 * (m * dot_row(vs[warp], doi, Dh) - rowDots[row]) * scale;
        pr = p0 * m;  // dv takes the dropped probability
      }
    }
    ps[warp][lane] = pr;
    ds_[warp][lane] = ds;
    __syncwarp();
    const int64_t n = imin(32, Tq - c0);
    for (int64_t ii = 0; ii < n; ++ii) {
      const float wp = ps[warp][ii], wd = ds_[warp][ii];
      if (wp == 0.0f && wd == 0.0f) continue;
      const float* qi = q + (b * Tq + c0 + ii) * ldq + h * Dh;
      const float* doi = dout + (b * Tq + c0 + ii) * D + h * Dh;
#pragma unroll
      for (int t = 0; t < kPerLane; ++t) {
        const int64_t d = lane + 32 * t;
        if (d < Dh) {
          dkAcc[t] += wd * qi[d];
          dvAcc[t] += wp * doi[d];
        }
      }
    }
    __syncwarp();
  }
  float* dkj = dk + (b * Tk + j) * ldk + h * Dh;
  float* dvj = dv + (b * Tk + j) * ldk + h * Dh;
#pragma unroll
  for (int t = 0; t < kPerLane; ++t) {
    const int64_t d = lane + 32 * t;
    if (d < Dh) {
      dkj[d] += dkAcc[t];
      dvj[d] += dvAcc[t];
    }
  }
}

void check_shape(const char* op, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t Dh) {
  if (Dh > kMaxDh || B > 65535 || H > 65535)
    throw std::runtime_error(std::string("cuda::") + op + ": B=" + std::to_string(B) +
                             ", H=" + std::to_string(H) + ", Dh=" + std::to_string(Dh) +
                             " unsupported by the CUDA kernel (needs Dh <= " +
                             std::to_string(kMaxDh) + ", B and H <= 65535)");
  if (Tq > Tk)
    throw std::runtime_error(std::string("cuda::") + op + ": Tq=" + std::to_string(Tq) +
                             " > Tk=" + std::to_string(Tk));
}

// The graduated version, or CLLM4REC_ATTENTION_VERSION (1 pins the FP32 reference for numerics
// work); an unknown value is 0 here and thrown at the first attention call.
const char* const g_env = std::getenv("CLLM4REC_ATTENTION_VERSION");
const std::string g_env_value = g_env ? g_env : "";
std::atomic<int> g_version{g_env_value.empty() ? 2 : g_env_value == "1" ? 1 : g_env_value == "2" ? 2 : 0};
// The environment pins one version for the whole run, over what a model's dtype asks for.
const bool g_env_pins = !g_env_value.empty();

// Opts a kernel into `bytes` of dynamic shared memory once (above the default 48 KiB).
template <class Kernel>
void allow_smem(Kernel kernel, int bytes, const char* op) {
  detail::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes), op);
}

flash::Shape flash_shape(const float* q, int64_t ldq, const float* k, const float* v, int64_t ldk,
                         int64_t H, int64_t Tq, int64_t Tk, float scale) {
  auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return flash::Shape{H, Tq, Tk, ldq, ldk, scale, aligned(q) && ldq % 4 == 0,
                      aligned(k) && aligned(v) && ldk % 4 == 0};
}

template <int Dh, int Bc>
void flash_forward_launch(const float* q, const float* k, const float* v, const int32_t* keyMask,
                          float* out, float* lse, int64_t B, const flash::Shape& s,
                          const philox::Dropout& drop) {
  constexpr int smem = 4 * Bc * flash::row_floats<Dh>() * int(sizeof(float));
  static const bool opted = (allow_smem(flash::flash_forward_kernel<Dh, Bc>, smem, "attention_forward"), true);
  (void)opted;
  const dim3 grid(static_cast<unsigned>((s.Tq + flash::kTile - 1) / flash::kTile),
                  static_cast<unsigned>(s.H), static_cast<unsigned>(B));
  flash::flash_forward_kernel<Dh, Bc><<<grid, flash::kThreads, smem, detail::stream()>>>(
      q, k, v, keyMask, out, lse, s, drop);
  check_last("attention_forward");
}

void flash_forward(const float* q, int64_t ldq, const float* k, const float* v, int64_t ldk,
                   const int32_t* keyMask, float* out, float* lse, int64_t B, int64_t H, int64_t Tq,
                   int64_t Tk, int64_t Dh, float scale, const philox::Dropout& drop) {
  const flash::Shape s = flash_shape(q, ldq, k, v, ldk, H, Tq, Tk, scale);
  if (Dh == 64)
    flash_forward_launch<64, 64>(q, k, v, keyMask, out, lse, B, s, drop);
  else
    flash_forward_launch<128, 32>(q, k, v, keyMask, out, lse, B, s, drop);
}

template <int Dh, int Bc, int Br>
void flash_backward_launch(const float* dout, const float* q, const float* k, const float* v,
                           const int32_t* keyMask, const float* out, const float* lse, float* dq,
                           float* dk, float* dv, int64_t B, const flash::Shape& s,
                           const philox::Dropout& drop) {
  constexpr int LD = flash::row_floats<Dh>(), kF = int(sizeof(float));
  constexpr int smemQ = 4 * Bc * LD * kF, smemK = (2 * flash::kTile + 4 * Br) * LD * kF;
  static const bool opted = (allow_smem(flash::flash_backward_dq_kernel<Dh, Bc>, smemQ, "attention_backward"),
                             allow_smem(flash::flash_backward_dkv_kernel<Dh, Br>, smemK, "attention_backward"), true);
  (void)opted;
  const int64_t rows = B * s.H * s.Tq;
  detail::Scratch rowDots(sizeof(float) * rows);
  flash::flash_row_dot_kernel<Dh><<<static_cast<unsigned>((rows + flash::kWarps - 1) / flash::kWarps),
                                    flash::kThreads, 0, detail::stream()>>>(dout, out, lse, rowDots.as<float>(),
                                                                            rows, s.H, s.Tq);
  check_last("attention_backward");
  const auto tiles = [](int64_t n) { return static_cast<unsigned>((n + flash::kTile - 1) / flash::kTile); };
  const dim3 gridQ(tiles(s.Tq), static_cast<unsigned>(s.H), static_cast<unsigned>(B));
  flash::flash_backward_dq_kernel<Dh, Bc><<<gridQ, flash::kThreads, smemQ, detail::stream()>>>(
      dout, q, k, v, keyMask, lse, rowDots.as<float>(), dq, s, drop);
  check_last("attention_backward");
  const dim3 gridK(tiles(s.Tk), static_cast<unsigned>(s.H), static_cast<unsigned>(B));
  flash::flash_backward_dkv_kernel<Dh, Br><<<gridK, flash::kThreads, smemK, detail::stream()>>>(
      dout, q, k, v, keyMask, lse, rowDots.as<float>(), dk, dv, s, drop);
  check_last("attention_backward");
}

}  // namespace

void set_attention_version(int v) {
  if (v != 1 && v != 2)
    throw std::runtime_error("cuda::set_attention_version: version " + std::to_string(v) +
                             " does not exist (1 = warp per query, 2 = flash on tensor cores)");
  g_version = v;
}

int attention_version() {
  if (g_version == 0)
    throw std::runtime_error("CLLM4REC_ATTENTION_VERSION=" + g_env_value +
                             ": attention versions are 1 (warp per query, FP32) and 2 (flash on tensor cores)");
  return g_version;
}

int attention_kernel_version(int64_t Dh, int64_t version) {
  const int v = version == 0 || g_env_pins ? attention_version() : int(version);
  return v >= 2 && (Dh == 64 || Dh == 128) ? 2 : 1;
}

void attention_forward(const float* q, int64_t ldq, const float* k, const float* v, int64_t ldk,
                       const int32_t* keyMask, float* out, float* lse, int64_t B, int64_t H,
                       int64_t Tq, int64_t Tk, int64_t Dh, int64_t seed, int64_t site,
                       int64_t step, int64_t threshold, float dropScale, int64_t version) {
  if (B <= 0 || H <= 0 || Tq <= 0 || Dh <= 0) return;
  check_shape("attention_forward", B, H, Tq, Tk, Dh);
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  if (attention_kernel_version(Dh, version) == 2) {
    flash_forward(q, ldq, k, v, ldk, keyMask, out, lse, B, H, Tq, Tk, Dh, scale,
                  philox::make_dropout(seed, site, step, threshold, dropScale));
    return;
  }
  const dim3 grid(static_cast<unsigned>((Tq + kWarps - 1) / kWarps), static_cast<unsigned>(H),
                  static_cast<unsigned>(B));
  attention_forward_kernel<<<grid, kWarps * 32, 0, detail::stream()>>>(
      q, ldq, k, v, ldk, keyMask, out, lse, H, Tq, Tk, Dh, scale,
      philox::make_dropout(seed, site, step, threshold, dropScale));
  check_last("attention_forward");
}

void attention_backward(const float* dout, const float* q, int64_t ldq, const float* k,
                        const float* v, int64_t ldk, const int32_t* keyMask, const float* out,
                        const float* lse, float* dq, float* dk, float* dv, int64_t B, int64_t H,
                        int64_t Tq, int64_t Tk, int64_t Dh, int64_t seed, int64_t site,
                        int64_t step, int64_t threshold, float dropScale, int64_t version) {
  const philox::Dropout drop = philox::make_dropout(seed, site, step, threshold, dropScale);
  if (B <= 0 || H <= 0 || Tq <= 0 || Dh <= 0) return;
  check_shape("attention_backward", B, H, Tq, Tk, Dh);
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  if (attention_kernel_version(Dh, version) == 2) {
    // dout rows are [B*Tq, H*Dh] contiguous: 16-byte copies when q's rows allow them too
    flash::Shape s = flash_shape(q, ldq, k, v, ldk, H, Tq, Tk, scale);
    s.vecQ = s.vecQ && reinterpret_cast<uintptr_t>(dout) % 16 == 0;
    if (Dh == 64)
      flash_backward_launch<64, 64, 32>(dout, q, k, v, keyMask, out, lse, dq, dk, dv, B, s, drop);
    else
      flash_backward_launch<128, 32, 16>(dout, q, k, v, keyMask, out, lse, dq, dk, dv, B, s, drop);
    return;
  }
  detail::Scratch rowDots(sizeof(float) * B * H * Tq);
  const dim3 gridQ(static_cast<unsigned>((Tq + kWarps - 1) / kWarps), static_cast<unsigned>(H),
                   static_cast<unsigned>(B));
  attention_backward_dq_kernel<<<gridQ, kWarps * 32, 0, detail::stream()>>>(
      dout, q, ldq, k, v, ldk, keyMask, out, lse, dq, rowDots.as<float>(), H, Tq, Tk, Dh,
      scale, drop);
  check_last("attention_backward");
  const dim3 gridK(static_cast<unsigned>((Tk + kWarps - 1) / kWarps), static_cast<unsigned>(H),
                   static_cast<unsigned>(B));
  attention_backward_dkv_kernel<<<gridK, kWarps * 32, 0, detail::stream()>>>(
      dout, q, ldq, k, v, ldk, keyMask, lse, rowDots.as<float>(), dk, dv, H, Tq, Tk, Dh, scale,
      drop);
  check_last("attention_backward");
}

}  // namespace cuda
