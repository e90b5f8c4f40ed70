#pragma once
// Where a bench step's time goes, per kernel: LibTorch's profiler (Kineto) around a few steps, so a
// gap to PyTorch can be compared kernel by kernel with torch.profiler's table of the Python
// reference (scripts/bench-reference.py --profile-kernels). The profiler API differs between
// LibTorch 1.13 and 2.x; only bench_profile.cpp knows.
#include <functional>
#include <vector>

#include "dfscan/bench.hpp"

namespace dfscan::bench {

struct KernelProfile {
  // On CUDA: device kernels and copies; on the CPU: aten operators (inclusive times, so nested ones
  // overlap). Longest first, at most `top` entries.
  std::vector<KernelTime> top;
  KernelTime total;  // CUDA only: all device kernels of one step, however many are listed
  // CUDA only: the host side, aten operators (inclusive) and CUDA runtime calls, at most `top`.
  std::vector<KernelTime> host;
};

// Runs `step` `steps` times under the profiler, waiting for the device at the end; per-step figures.
// Throws dfscan::Error(unsupported) when this build has no profiler.
KernelProfile profile_kernels(const std::function<void()>& step, int steps, bool cuda, int top);

}  // namespace dfscan::bench
