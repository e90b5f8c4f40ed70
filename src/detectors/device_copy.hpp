#pragma once
// Where a network's inputs and weights live. Host batches go to the accelerator through pinned
// (page-locked) memory on CUDA, copied asynchronously on a side stream that the compute stream
// waits for: the caller can queue the next batch's copy while this one's network runs, and the
// host never blocks on a copy. And the channels-last layout, for weights and inputs alike.
#include <ATen/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>

#include <vector>

namespace dfscan::detectors {

// `host` on `device`. CPU targets get `host` itself. On CUDA with `pinned`, an asynchronous copy
// from pinned memory ordered before the current stream's later work; without it, an ordinary
// (synchronous, pageable) copy, the baseline `dfscan bench --mode pipeline` compares against.
at::Tensor to_device(const at::Tensor& host, const c10::Device& device, bool pinned = true);

// torch::stack of host tensors, for a batch bound for `device`: written straight into page-locked
// memory when that is CUDA, so that to_device copies it asynchronously without staging it first
// (one pass over the batch on the host instead of two).
at::Tensor stack_for(const std::vector<at::Tensor>& items, const c10::Device& device);

// Converts the network's 4-D weights (convolutions) to channels-last memory format; returns whether
// it had any. Inputs then go channels-last too, so that the convolutions need no layout changes.
bool to_channels_last(torch::nn::Module& net);

}  // namespace dfscan::detectors
