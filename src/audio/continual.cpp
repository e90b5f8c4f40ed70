// Continual-learning strategies and the task-sequence driver for audio spoofing detection.
#include "dfscan/audio/continual.hpp"

#include <torch/torch.h>

#include <cmath>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "dfscan/metrics.hpp"
#include "dfscan/status.hpp"

namespace dfscan::audio {

at::Tensor ContinualStrategy::penalty(SpoofModel&, int, const StepBatch&, const at::Tensor&) {
  return {};
}

namespace {

std::vector<torch::Tensor> trainable(SpoofModel& model) {
  std::vector<torch::Tensor> out;
  for (auto& p : model.parameters(true))
    if (p.defined() && p.requires_grad()) out.push_back(p);
  return out;
}

// Calls fn(batch) over the set in order, in eval mode without gradients unless `grad`.
template <typename Fn>
void for_each_batch(const LabeledSet& set, int batch_size, const c10::Device& device, Fn fn) {
  const int64_t n = set.inputs.size(0);
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t end = std::min<int64_t>(n, start + batch_size);
    fn(StepBatch{set.inputs.slice(0, start, end).to(device), set.labels.slice(0, start, end).to(device)});
  }
}

class FineTune : public ContinualStrategy {
 public:
  std::string name() const override { return "finetune"; }
};

// Elastic weight consolidation with the diagonal empirical Fisher, summed over past tasks.
class Ewc : public ContinualStrategy {
 public:
  explicit Ewc(const StrategyConfig& c) : c_(c) {}
  std::string name() const override { return "ewc"; }
  at::Tensor penalty(SpoofModel& model, int, const StepBatch&, const at::Tensor&) override {
    if (fisher_.empty()) return {};
    torch::Tensor total;
    for (auto& item : model.named_parameters(true)) {
      auto f = fisher_.find(item.key());
      if (f == fisher_.end() || !item.value().defined() || !item.value().requires_grad()) continue;
      auto term = (f->second * (item.value() - anchor_.at(item.key())).pow(2)).sum();
      total = total.defined() ? total + term : term;
    }
    return total.defined() ? 0.5 * c_.ewc_lambda * total : total;
  }
  void end_task(SpoofModel& model, int, const LabeledSet& train, const c10::Device& device) override {
    const bool was_training = model.is_training();
    model.eval();
    std::map<std::string, torch::Tensor> fisher;
    int batches = 0;
    for_each_batch(train, c_.batch_size, device, [&](const StepBatch& b) {
      model.zero_grad();
      torch::nn::functional::cross_entropy(model.forward(b.inputs), b.labels).backward();
      for (auto& item : model.named_parameters(true)) {
        if (!item.value().defined() || !item.value().requires_grad() || !item.value().grad().defined())
          continue;
        auto g2 = item.value().grad().detach().pow(2);
        auto it = fisher.find(item.key());
        if (it == fisher.end())
          fisher.emplace(item.key(), g2.clone());
        else
          it->second += g2;
      }
      ++batches;
    });
    model.zero_grad();
    for (auto& [key, f] : fisher) {
      f /= std::max(1, batches);
      auto it = fisher_.find(key);
      if (it == fisher_.end())
        fisher_.emplace(key, f);
      else
        it->second += f;
    }
    for (auto& item : model.named_parameters(true))
      if (item.value().defined()) anchor_[item.key()] = item.value().detach().clone();
    model.train(was_training);
  }

 private:
  StrategyConfig c_;
  std::map<std::string, torch::Tensor> fisher_, anchor_;
};

// Learning without forgetting: distil the previous model's softened outputs on the new data.
class Lwf : public ContinualStrategy {
 public:
  explicit Lwf(const StrategyConfig& c) : c_(c) {}
  std::string name() const override { return "lwf"; }
  at::Tensor penalty(SpoofModel&, int, const StepBatch& batch, const at::Tensor& logits) override {
    if (!teacher_) return {};
    torch::Tensor target;
    {
      torch::NoGradGuard no_grad;
      target = torch::softmax(teacher_->forward(batch.inputs) / c_.lwf_temperature, 1);
    }
    auto log_student = torch::log_softmax(logits / c_.lwf_temperature, 1);
    auto kl = (target * (torch::log(target.clamp_min(1e-12)) - log_student)).sum(1).mean();
    return c_.lwf_lambda * c_.lwf_temperature * c_.lwf_temperature * kl;
  }
  void end_task(SpoofModel& model, int, const LabeledSet&, const c10::Device&) override {
    teacher_ = clone_model(model);
    teacher_->eval();
    for (auto& p : teacher_->parameters(true))
      if (p.defined()) p.set_requires_grad(false);
  }

 private:
  StrategyConfig c_;
  std::shared_ptr<SpoofModel> teacher_;
};

// Replay from a bounded reservoir of past training samples.
class Replay : public ContinualStrategy {
 public:
  explicit Replay(const StrategyConfig& c) : c_(c), rng_(c.seed) {
    if (c.replay_capacity < 1 || c.replay_batch < 1)
      throw Error(Status::error, "replay: capacity and batch must be positive");
  }
  std::string name() const override { return "replay"; }
  StepBatch prepare_batch(SpoofModel&, int, StepBatch batch) override {
    if (inputs_.empty()) return batch;
    std::uniform_int_distribution<size_t> pick(0, inputs_.size() - 1);
    std::vector<torch::Tensor> xs{batch.inputs}, ys{batch.labels};
    for (int i = 0; i < c_.replay_batch; ++i) {
      const size_t j = pick(rng_);
      xs.push_back(inputs_[j].unsqueeze(0).to(batch.inputs.device()));
      ys.push_back(labels_[j].unsqueeze(0).to(batch.labels.device()));
    }
    return StepBatch{torch::cat(xs), torch::cat(ys)};
  }
  void end_task(SpoofModel&, int, const LabeledSet& train, const c10::Device&) override {
    for (int64_t i = 0; i < train.inputs.size(0); ++i) {
      ++seen_;
      if (inputs_.size() < static_cast<size_t>(c_.replay_capacity)) {
        inputs_.push_back(train.inputs[i].clone());
        labels_.push_back(train.labels[i].clone());
      } else {
        std::uniform_int_distribution<int64_t> slot(0, seen_ - 1);
        const int64_t j = slot(rng_);
        if (j < c_.replay_capacity) {
          inputs_[j] = train.inputs[i].clone();
          labels_[j] = train.labels[i].clone();
        }
      }
    }
  }

 private:
  StrategyConfig c_;
  std::mt19937_64 rng_;
  std::vector<torch::Tensor> inputs_, labels_;
  int64_t seen_ = 0;
};

enum class ProjectionKind { owm, rawm, rwm };

// OWM / RAWM / RWM with the intended semantics: for every linear layer of the head, P is the RLS
// projector orthogonal to the previous tasks' layer inputs (bias folded in as a constant input),
// Q = I - P projects onto that subspace, and from the second task on each gradient [dW | db] is
// replaced by [dW | db] (P + beta Q)^T, beta clamped. P is frozen while a task trains and absorbs
// the task's inputs (batch means, scalar RLS denominator) when it ends.
class Projection : public ContinualStrategy {
 public:
  Projection(const StrategyConfig& c, ProjectionKind kind) : c_(c), kind_(kind) {
    if (!(c.rls_alpha > 0.0)) throw Error(Status::error, "projection: rls_alpha must be positive");
    if (c.beta_min < 0.0 || c.beta_max < c.beta_min)
      throw Error(Status::error, "projection: need 0 <= beta_min <= beta_max");
  }
  std::string name() const override {
    return kind_ == ProjectionKind::owm ? "owm" : kind_ == ProjectionKind::rawm ? "rawm" : "rwm";
  }

  double beta(const StepBatch& batch, const at::Tensor& logits) const {
    if (kind_ == ProjectionKind::owm) return 0.0;
    double b =
        kind_ == ProjectionKind::rawm ? rawm_beta(batch.labels) : rwm_beta(logits.detach(), batch.labels);
    if (!std::isfinite(b)) b = c_.beta_max;
    return std::clamp(b, c_.beta_min, c_.beta_max);
  }

  void before_update(SpoofModel& model, int task, const StepBatch& batch, const at::Tensor& logits) override {
    if (task == 0) return;
    torch::NoGradGuard no_grad;
    const double b = beta(batch, logits);
    auto& linears = model.head()->linears();
    if (c_.reference_compat) {
      // The published code: only the classifier weight, P updated with every batch.
      auto& layer = linears.back();
      auto grad = layer->weight.grad();
      if (!grad.defined()) return;
      if (!ref_)
        ref_ = std::make_unique<ReferenceProjector>(layer->weight.size(1), c_.rls_alpha, grad.scalar_type());
      grad.copy_(ref_->step(grad, model.head()->last_inputs().back(), b, kind_ != ProjectionKind::owm));
      return;
    }
    if (p_.empty()) return;  // nothing learnt yet
    for (size_t l = 0; l < linears.size(); ++l) {
      auto& layer = linears[l];
      if (!layer->weight.grad().defined()) continue;
      auto g = torch::cat({layer->weight.grad(), layer->bias.grad().unsqueeze(1)}, 1);  // [out, d+1]
      auto eye = torch::eye(p_[l].size(0), p_[l].options());
      auto r = p_[l] + b * (eye - p_[l]);
      auto projected = torch::mm(g, r.t());
      layer->weight.grad().copy_(projected.slice(1, 0, projected.size(1) - 1));
      layer->bias.grad().copy_(projected.select(1, projected.size(1) - 1));
    }
  }

  void end_task(SpoofModel& model, int, const LabeledSet& train, const c10::Device& device) override {
    if (c_.reference_compat) return;
    torch::NoGradGuard no_grad;
    const bool was_training = model.is_training();
    model.eval();
    auto& head = model.head();
    if (p_.empty())
      for (auto& layer : head->linears()) {
        const auto d = layer->weight.size(1) + 1;
        p_.push_back(torch::eye(d, torch::TensorOptions().dtype(torch::kFloat).device(device)));
      }
    for_each_batch(train, c_.batch_size, device, [&](const StepBatch& b) {
      model.forward(b.inputs);
      const auto& inputs = head->last_inputs();
      for (size_t l = 0; l < p_.size(); ++l) {
        auto x = inputs[l].to(torch::kFloat);
        auto r = torch::cat({x.mean(0), torch::ones({1}, x.options())}).unsqueeze(0);  // [1, d+1]
        auto k = torch::mm(p_[l], r.t());                                              // [d+1, 1]
        p_[l] = p_[l] - torch::mm(k, k.t()) / (c_.rls_alpha + torch::mm(r, k).item<double>());
      }
    });
    model.train(was_training);
  }

 private:
  StrategyConfig c_;
  ProjectionKind kind_;
  std::vector<torch::Tensor> p_;
  std::unique_ptr<ReferenceProjector> ref_;
};

}  // namespace

double rawm_beta(const at::Tensor& labels) {
  const auto n_fake = labels.eq(1).sum().item<int64_t>();
  const auto n_real = labels.numel() - n_fake;
  return static_cast<double>(n_real + 1) / static_cast<double>(n_fake + 1);
}

double rwm_beta(const at::Tensor& logits, const at::Tensor& labels) {
  auto z_true = logits.gather(1, labels.view({-1, 1}).to(torch::kLong)).squeeze(1);
  auto s = torch::softmax(z_true, 0);
  auto theta = torch::asin(s);
  auto sign = 1.0 - 2.0 * labels.to(theta.scalar_type());  // real +1, fake -1
  const double sum = (sign * theta).sum().item<double>();
  return std::tan(M_PI / 4.0 + 0.5 * sum);
}

ReferenceProjector::ReferenceProjector(int64_t dim, double alpha, at::ScalarType dtype)
    : p_(torch::eye(dim, torch::TensorOptions().dtype(dtype))), alpha_(alpha) {}

at::Tensor ReferenceProjector::step(const at::Tensor& grad, const at::Tensor& inputs, double beta,
                                    bool with_q) {
  torch::NoGradGuard no_grad;
  if (p_.device() != grad.device()) p_ = p_.to(grad.device());
  auto r = torch::mean(inputs.to(p_.scalar_type()), 0, true);  // [1, d]
  auto k = torch::mm(p_, r.t());                               // [d, 1]
  p_ = p_ - torch::mm(k, k.t()) / (alpha_ + torch::mm(k, r));  // element-wise, as published
  p_ = p_ / torch::norm(p_);
  auto eye = torch::eye(p_.size(0), p_.options());
  auto r_mat = p_;
  if (with_q) {
    auto q = eye - torch::mm(p_, torch::linalg_solve(torch::mm(p_.t(), p_), p_.t()));
    q_raw_norm_ = torch::norm(q).item<double>();
    q = q / torch::norm(q);
    r_mat = p_ + beta * q;
  }
  return torch::mm(grad, r_mat.t());
}

std::unique_ptr<ContinualStrategy> make_strategy(const StrategyConfig& c) {
  if (c.name == "finetune") return std::make_unique<FineTune>();
  if (c.name == "ewc") return std::make_unique<Ewc>(c);
  if (c.name == "lwf") return std::make_unique<Lwf>(c);
  if (c.name == "replay") return std::make_unique<Replay>(c);
  if (c.name == "owm") return std::make_unique<Projection>(c, ProjectionKind::owm);
  if (c.name == "rawm") return std::make_unique<Projection>(c, ProjectionKind::rawm);
  if (c.name == "rwm") return std::make_unique<Projection>(c, ProjectionKind::rwm);
  throw Error(Status::error, "unknown continual strategy '" + c.name +
                                 "' (expected finetune, ewc, lwf, replay, owm, rawm or rwm)");
}

double train_task(SpoofModel& model, ContinualStrategy& strategy, int task, const LabeledSet& train,
                  const TrainConfig& config) {
  const int64_t n = train.inputs.size(0);
  if (n == 0) throw Error(Status::error, "continual: task " + std::to_string(task) + " has no training data");
  torch::manual_seed(config.seed * 1000003ULL + static_cast<std::uint64_t>(task));
  model.to(config.device);
  model.train();
  strategy.begin_task(model, task);
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  if (config.optimizer == "adam")
    optimizer = std::make_unique<torch::optim::Adam>(
        trainable(model), torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  else if (config.optimizer == "sgd")
    optimizer = std::make_unique<torch::optim::SGD>(
        trainable(model),
        torch::optim::SGDOptions(config.lr).momentum(0.9).weight_decay(config.weight_decay));
  else
    throw Error(Status::error,
                "continual: unknown optimizer '" + config.optimizer + "' (expected sgd or adam)");
  torch::Tensor class_weight;
  if (config.class_balanced) {
    auto counts = torch::bincount(train.labels, {}, 2).to(torch::kFloat).clamp_min(1.0);
    class_weight = (static_cast<double>(n) / (2.0 * counts)).to(config.device);
  }
  double last_loss = 0.0;
  for (int epoch = 0; epoch < config.epochs; ++epoch) {
    auto order = torch::randperm(n, torch::kLong);
    double total = 0.0;
    int steps = 0;
    for (int64_t start = 0; start < n; start += config.batch_size) {
      auto idx = order.slice(0, start, std::min<int64_t>(n, start + config.batch_size));
      if (idx.size(0) < 2 && n >= 2) continue;  // batch norm needs two samples
      StepBatch batch{train.inputs.index_select(0, idx).to(config.device),
                      train.labels.index_select(0, idx).to(config.device)};
      batch = strategy.prepare_batch(model, task, std::move(batch));
      auto logits = model.forward(batch.inputs);
      auto loss = torch::nn::functional::cross_entropy(
          logits, batch.labels, torch::nn::functional::CrossEntropyFuncOptions().weight(class_weight));
      auto extra = strategy.penalty(model, task, batch, logits);
      if (extra.defined()) loss = loss + extra;
      optimizer->zero_grad();
      loss.backward();
      strategy.before_update(model, task, batch, logits);
      if (config.grad_clip > 0.0) torch::nn::utils::clip_grad_norm_(trainable(model), config.grad_clip);
      optimizer->step();
      total += loss.item<double>();
      ++steps;
    }
    last_loss = total / std::max(1, steps);
  }
  return last_loss;
}

at::Tensor predict_scores(SpoofModel& model, const LabeledSet& set, const c10::Device& device,
                          int batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<torch::Tensor> scores;
  for_each_batch(set, batch_size, device, [&](const StepBatch& b) {
    scores.push_back(fake_probability(model.forward(b.inputs)).cpu());
  });
  model.train(was_training);
  return scores.empty() ? torch::empty({0}) : torch::cat(scores);
}

double evaluate_eer(SpoofModel& model, const LabeledSet& set, const c10::Device& device) {
  auto scores = predict_scores(model, set, device).to(torch::kDouble).contiguous();
  auto labels = set.labels.to(torch::kLong).contiguous();
  std::vector<double> s(scores.data_ptr<double>(), scores.data_ptr<double>() + scores.numel());
  std::vector<int> y(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + labels.numel());
  auto eer = eval::equal_error_rate(y, s).eer;
  if (!eer.defined()) throw Error(Status::error, "continual: EER undefined: " + eer.reason);
  return *eer.value;
}

ContinualResult run_continual(SpoofModel& model, ContinualStrategy& strategy,
                              const std::vector<ContinualTask>& tasks, const TrainConfig& config) {
  if (tasks.empty()) throw Error(Status::error, "continual: no tasks");
  ContinualResult result;
  result.strategy = strategy.name();
  result.seed = config.seed;
  const size_t t_count = tasks.size();
  for (const auto& t : tasks) result.tasks.push_back(t.name);
  result.eer.assign(t_count, std::vector<double>(t_count, 0.0));
  model.to(config.device);
  for (size_t t = 0; t < t_count; ++t) {
    const int task = static_cast<int>(t);
    double loss = std::nan("");
    if (task >= config.pretrained_tasks) loss = train_task(model, strategy, task, tasks[t].train, config);
    result.train_loss.push_back(loss);
    if (t == 0 && config.freeze_backbone_after_first_task) model.set_backbone_trainable(false);
    strategy.end_task(model, task, tasks[t].train, config.device);
    for (size_t i = 0; i < t_count; ++i) result.eer[i][t] = evaluate_eer(model, tasks[i].test, config.device);
  }
  double avg = 0.0, forget = 0.0;
  for (size_t i = 0; i < t_count; ++i) avg += result.eer[i][t_count - 1];
  for (size_t i = 0; i + 1 < t_count; ++i) forget += result.eer[i][t_count - 1] - result.eer[i][i];
  result.average_eer = avg / static_cast<double>(t_count);
  result.forgetting = t_count > 1 ? forget / static_cast<double>(t_count - 1) : 0.0;
  return result;
}

std::string to_json(const ContinualResult& r) {
  nlohmann::ordered_json j;
  j["strategy"] = r.strategy;
  j["seed"] = r.seed;
  j["tasks"] = r.tasks;
  j["eer"] = r.eer;
  j["average_eer"] = r.average_eer;
  j["forgetting"] = r.forgetting;
  nlohmann::json losses = nlohmann::json::array();
  for (double l : r.train_loss) losses.push_back(std::isfinite(l) ? nlohmann::json(l) : nlohmann::json());
  j["train_loss"] = losses;
  return j.dump();
}

std::string format_table(const ContinualResult& r) {
  std::ostringstream out;
  size_t w = 12;
  for (const auto& t : r.tasks) w = std::max(w, t.size() + 2);
  out << r.strategy << " (seed " << r.seed
      << "), EER % on each task's test set (rows) after training task (columns)\n";
  out << std::setw(static_cast<int>(w)) << std::left << "task";
  for (size_t j = 0; j < r.tasks.size(); ++j)
    out << std::setw(10) << std::right << ("after " + std::to_string(j + 1));
  out << "\n";
  for (size_t i = 0; i < r.tasks.size(); ++i) {
    out << std::setw(static_cast<int>(w)) << std::left << r.tasks[i];
    for (size_t j = 0; j < r.tasks.size(); ++j)
      out << std::setw(10) << std::right << std::fixed << std::setprecision(2) << 100.0 * r.eer[i][j];
    out << "\n";
  }
  out << "average EER " << std::fixed << std::setprecision(2) << 100.0 * r.average_eer
      << " %, forgetting (BWT) " << 100.0 * r.forgetting << " points\n";
  return out.str();
}

}  // namespace dfscan::audio
