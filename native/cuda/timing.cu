// CUDA-event timing for the kernel benchmarks (bench/cuda): events on the one stream, so
// the time is the device's, not the host's launch loop (as long as launches keep up).
#include "common.cuh"

namespace cuda {
namespace {

cudaEvent_t g_start = nullptr, g_stop = nullptr;
bool g_started = false;

void ensure_events() {
  if (!g_start) detail::check(cudaEventCreate(&g_start), "cuda::timer_start: cudaEventCreate");
  if (!g_stop) detail::check(cudaEventCreate(&g_stop), "cuda::timer_start: cudaEventCreate");
}

}  // namespace

void timer_start() {
  ensure_events();
  detail::check(cudaEventRecord(g_start, detail::stream()), "cuda::timer_start: cudaEventRecord");
  g_started = true;
}

double timer_stop_ms() {
  if (!g_started) throw std::runtime_error("cuda::timer_stop_ms: timer_start was not called");
  g_started = false;
  detail::check(cudaEventRecord(g_stop, detail::stream()), "cuda::timer_stop_ms: cudaEventRecord");
  detail::check(cudaEventSynchronize(g_stop), "cuda::timer_stop_ms: cudaEventSynchronize");
  float ms = 0.0f;
  detail::check(cudaEventElapsedTime(&ms, g_start, g_stop), "cuda::timer_stop_ms: cudaEventElapsedTime");
  return ms;
}

}  // namespace cuda
