#include "train/optim.hpp"

#include <torch/torch.h>

#include <cmath>

#include "dfscan/status.hpp"

namespace dfscan::train {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<at::Tensor>& params,
                                                        const TrainOptions& o) {
  if (o.optimizer == "sgd")
    return std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  if (o.optimizer == "adam")
    return std::make_unique<torch::optim::Adam>(params,
                                                torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  if (o.optimizer == "adamw")
    return std::make_unique<torch::optim::AdamW>(
        params, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  throw Error(Status::error, "unknown optimizer '" + o.optimizer + "' (adam, adamw, sgd)");
}

double lr_at(const TrainOptions& o, int64_t step, int64_t epoch, int64_t steps_per_epoch) {
  double lr = o.lr;
  if (o.schedule == "step") {
    lr *= std::pow(o.gamma, static_cast<double>(epoch / std::max(1, o.step_epochs)));
  } else if (o.schedule == "cosine") {
    int64_t total = static_cast<int64_t>(o.epochs) * steps_per_epoch;
    if (o.max_steps > 0) total = std::min(total, o.max_steps);
    const int64_t after_warmup = std::max<int64_t>(1, total - o.warmup_steps);
    const double t =
        std::clamp(static_cast<double>(step - o.warmup_steps) / static_cast<double>(after_warmup), 0.0, 1.0);
    lr *= 0.5 * (1.0 + std::cos(M_PI * t));
  } else if (o.schedule != "constant") {
    throw Error(Status::error, "unknown schedule '" + o.schedule + "' (constant, step, cosine)");
  }
  if (o.warmup_steps > 0 && step < o.warmup_steps)
    lr *= static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  return lr;
}

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace dfscan::train
