#pragma once
// Optimizers and learning-rate schedules for the trainer.
#include <torch/optim/optimizer.h>

#include <memory>
#include <optional>

#include "dfscan/train.hpp"

namespace dfscan::train {

// Adam, AdamW or SGD over `params`, as PyTorch 1.13 defines them. Throws dfscan::Error on a bad name.
// Adam and AdamW step with multi-tensor kernels when `multi_tensor` (default: every parameter is on
// CUDA), with the same arithmetic, state and checkpoints as LibTorch's own.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<at::Tensor>& params,
                                                        const TrainOptions& options,
                                                        std::optional<bool> multi_tensor = std::nullopt);

// The learning rate of optimizer step `step` (0-based) in epoch `epoch`: a pure function of its
// arguments, so the schedule's whole state is the step counter saved with each checkpoint.
double lr_at(const TrainOptions& options, int64_t step, int64_t epoch, int64_t steps_per_epoch);

void set_lr(torch::optim::Optimizer& optimizer, double lr);

}  // namespace dfscan::train
