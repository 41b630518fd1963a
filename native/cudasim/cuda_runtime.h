// The simulator's stand-in for <cuda_runtime.h>: the runtime API subset native/cuda
// uses, implemented on the host by native/cudasim/sim.cc (device memory is exact-size
// host memory filled with a poison pattern; launches run every CUDA thread as a fiber).
#pragma once
#include <cstddef>
#include "cudasim.h"

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
};
typedef cudaError_t cudaError;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};

struct CUstream_st;
typedef CUstream_st* cudaStream_t;
constexpr unsigned cudaStreamNonBlocking = 0x01;
constexpr unsigned cudaStreamDefault = 0x00;

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major, minor;
  int multiProcessorCount;
};

cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaMemGetInfo(size_t* freeBytes, size_t* totalBytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
// From pinned host memory (cudaHostAlloc) a host-to-device cudaMemcpyAsync is deferred:
// it reads its source when the stream next does work (a launch, another copy, a sync, an
// event sync), as a GPU's copy engine would, so a source overwritten too early is caught.
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t s = nullptr);
constexpr unsigned cudaHostAllocDefault = 0x00;
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned flags);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t s = nullptr);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t e);
const char* cudaGetErrorName(cudaError_t e);
cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attr, int value);
template <class... P>
cudaError_t cudaFuncSetAttribute(void (*kernel)(P...), cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), attr, value);
}

// Events: launches run synchronously, so an event records the host clock when it is
// reached on the stream (elapsed times are the simulator's, never a GPU's).
struct CUevent_st;
typedef CUevent_st* cudaEvent_t;
cudaError_t cudaEventCreate(cudaEvent_t* e);
constexpr unsigned cudaEventDisableTiming = 0x02;
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventQuery(cudaEvent_t e);  // cudaErrorNotReady while deferred copies wait
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

namespace cudasim {
// Test hooks (sim builds only): how device memory and launches behave.
struct Stats {
  size_t launches, blocks, threads, switches;
  size_t d2h_copies, stream_syncs;  // device-to-host cudaMemcpy*, cudaStream/DeviceSynchronize
  size_t h2d_pinned, h2d_pageable;   // host-to-device copies by the kind of host memory read
  size_t device_mallocs, event_syncs;  // cudaMalloc calls, cudaEventSynchronize calls
};
Stats stats();
// Fails the next cudaGetDeviceCount with this error (to test how the runtime reports it).
void inject_device_count_error(cudaError_t e);
// Makes the nth next cudaFree call fail with cudaErrorInvalidValue (nothing is freed).
void inject_free_failure(int nth);
}  // namespace cudasim
