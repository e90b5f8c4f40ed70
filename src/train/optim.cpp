#include "train/optim.hpp"

#include <torch/torch.h>

#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>

#include "dfscan/status.hpp"

namespace dfscan::train {

namespace {

// Adam and AdamW with each step done by multi-tensor (_foreach) kernels: a handful of launches per
// parameter group instead of about eight per parameter, which is what PyTorch's Python optimizers
// do by default on CUDA. Same options, state and checkpoint format as the base class (the state is
// its param state under its key), and the same arithmetic as its step(): the base class's
// per-parameter step is kept where launches cost nothing (the CPU) and for AMSGrad.
template <class Base, class Options, class State, bool Decoupled>
class MultiTensorAdam final : public Base {
 public:
  MultiTensorAdam(const std::vector<at::Tensor>& params, const Options& options, bool multi_tensor)
      : Base(params, options), multi_tensor_(multi_tensor) {}

  at::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override {
    if (!multi_tensor_) return Base::step(closure);
    for (auto& group : this->param_groups_)
      if (static_cast<Options&>(group.options()).amsgrad()) return Base::step(closure);
    torch::NoGradGuard no_grad;
    at::Tensor loss;
    if (closure) {
      at::AutoGradMode enable_grad(true);
      loss = closure();
    }
    for (auto& group : this->param_groups_) step_group(group);
    return loss;
  }

 private:
  struct Lists {
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs;
  };

  // The base class keys its state by the parameter's TensorImpl: as a string in LibTorch 1.13, as
  // the pointer itself in 2.x.
  template <class Map>
  static auto state_key(const at::Tensor& p) {
    if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
      std::ostringstream text;  // what c10::guts::to_string (gone in 2.x) wrote
      text << p.unsafeGetTensorImpl();
      return text.str();
    } else {
      return static_cast<typename Map::key_type>(p.unsafeGetTensorImpl());
    }
  }

  void step_group(torch::optim::OptimizerParamGroup& group) {
    auto& options = static_cast<Options&>(group.options());
    // Parameters that joined later have taken fewer steps: one set of lists per step count.
    std::map<int64_t, Lists> by_step;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      TORCH_CHECK(!p.grad().is_sparse(), "Adam does not support sparse gradients");
      const auto key = state_key<std::decay_t<decltype(this->state_)>>(p);
      auto it = this->state_.find(key);
      if (it == this->state_.end()) {
        auto fresh = std::make_unique<State>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
        it = this->state_.emplace(key, std::move(fresh)).first;
      }
      auto& state = static_cast<State&>(*it->second);
      state.step(state.step() + 1);
      auto& lists = by_step[state.step()];
      lists.params.push_back(p);
      lists.grads.push_back(p.grad());
      lists.exp_avgs.push_back(state.exp_avg());
      lists.exp_avg_sqs.push_back(state.exp_avg_sq());
    }
    const double beta1 = std::get<0>(options.betas()), beta2 = std::get<1>(options.betas());
    const double lr = options.lr(), weight_decay = options.weight_decay();
    for (auto& [step, l] : by_step) {
      const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
      const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
      // AdamW decays the parameters, Adam adds the decay to the gradients (a new list; the
      // gradients themselves stay untouched).
      if (Decoupled && weight_decay != 0) at::_foreach_mul_(l.params, 1 - lr * weight_decay);
      const auto grads =
          !Decoupled && weight_decay != 0 ? at::_foreach_add(l.grads, l.params, weight_decay) : l.grads;
      at::_foreach_mul_(l.exp_avgs, beta1);
      at::_foreach_add_(l.exp_avgs, grads, 1 - beta1);
      at::_foreach_mul_(l.exp_avg_sqs, beta2);
      at::_foreach_addcmul_(l.exp_avg_sqs, grads, grads, 1 - beta2);
      auto denom = at::_foreach_sqrt(l.exp_avg_sqs);
      at::_foreach_div_(denom, std::sqrt(bias_correction2));
      at::_foreach_add_(denom, options.eps());
      at::_foreach_addcdiv_(l.params, l.exp_avgs, denom, -lr / bias_correction1);
    }
  }

  bool multi_tensor_;
};

using ForeachAdam =
    MultiTensorAdam<torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState, false>;
using ForeachAdamW =
    MultiTensorAdam<torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState, true>;

bool all_on_cuda(const std::vector<at::Tensor>& params) {
  if (params.empty()) return false;
  for (const auto& p : params)
    if (!p.is_cuda()) return false;
  return true;
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<at::Tensor>& params,
                                                        const TrainOptions& o,
                                                        std::optional<bool> multi_tensor) {
  const bool foreach = multi_tensor.value_or(all_on_cuda(params));
  if (o.optimizer == "sgd")
    return std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  if (o.optimizer == "adam")
    return std::make_unique<ForeachAdam>(params, torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay),
                                         foreach);
  if (o.optimizer == "adamw")
    return std::make_unique<ForeachAdamW>(
        params, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay), foreach);
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
