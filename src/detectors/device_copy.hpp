#pragma once
// Host batches to the accelerator. On CUDA the batch goes through pinned (page-locked) memory and
// is copied asynchronously on a side stream that the compute stream waits for: the caller can
// queue the next batch's copy while this one's network runs, and the host never blocks on a copy.
#include <ATen/Tensor.h>
#include <c10/core/Device.h>

namespace dfscan::detectors {

// `host` on `device`. CPU targets get `host` itself. On CUDA with `pinned`, an asynchronous copy
// from pinned memory ordered before the current stream's later work; without it, an ordinary
// (synchronous, pageable) copy, the baseline `dfscan bench --mode pipeline` compares against.
at::Tensor to_device(const at::Tensor& host, const c10::Device& device, bool pinned = true);

}  // namespace dfscan::detectors
