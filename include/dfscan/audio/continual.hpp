#pragma once
// Continual learning of new spoofing attacks without forgetting old ones: ContinualStrategy hooks
// around each training step (fine-tune, EWC, LwF, replay, OWM, RAWM, RWM) and a driver that
// trains an ordered list of tasks and reports the EER matrix, average EER and forgetting.
#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dfscan/audio/models.hpp"

namespace dfscan::audio {

// One split of one task: fixed-size model inputs and labels (0 = real, 1 = fake), on the CPU.
struct LabeledSet {
  at::Tensor inputs;  // [N, F, T]
  at::Tensor labels;  // [N] int64
};

struct ContinualTask {
  std::string name;
  LabeledSet train;
  LabeledSet test;
};

struct StepBatch {
  at::Tensor inputs;  // on the training device
  at::Tensor labels;
};

// Hooks around a training step. Task indices are 0-based; strategies see every task in order.
class ContinualStrategy {
 public:
  virtual ~ContinualStrategy() = default;
  virtual std::string name() const = 0;
  virtual void begin_task(SpoofModel& /*model*/, int /*task*/) {}
  // May add samples to the batch (replay).
  virtual StepBatch prepare_batch(SpoofModel& /*model*/, int /*task*/, StepBatch batch) { return batch; }
  // A term added to the loss (EWC, LwF); an undefined tensor means none.
  virtual at::Tensor penalty(SpoofModel& model, int task, const StepBatch& batch, const at::Tensor& logits);
  // After backward, before the optimiser step: may rewrite gradients (OWM, RAWM, RWM).
  virtual void before_update(SpoofModel& /*model*/, int /*task*/, const StepBatch& /*batch*/,
                             const at::Tensor& /*logits*/) {}
  // After the last step of a task, with that task's training data.
  virtual void end_task(SpoofModel& /*model*/, int /*task*/, const LabeledSet& /*train*/,
                        const c10::Device& /*device*/) {}
};

struct StrategyConfig {
  std::string name = "finetune";  // finetune | ewc | lwf | replay | owm | rawm | rwm
  double ewc_lambda = 1000.0;     // EWC: weight of the quadratic penalty (Fisher summed over tasks)
  double lwf_lambda = 1.0;        // LwF: weight of the distillation term
  double lwf_temperature = 2.0;
  int replay_capacity = 200;  // replay: reservoir of past training samples
  int replay_batch = 16;      // replay: samples added to each batch
  double rls_alpha = 1.0;     // OWM/RAWM/RWM: RLS regulariser
  double beta_min = 0.0;      // RAWM/RWM: clamp of the adaptive coefficient
  double beta_max = 1.0;
  bool reference_compat = false;  // RAWM/RWM/OWM: reproduce the published code's update (see README)
  int batch_size = 32;            // minibatches for end-of-task passes (Fisher, subspace)
  std::uint64_t seed = 0;
};

// Throws dfscan::Error on an unknown name or bad parameters.
std::unique_ptr<ContinualStrategy> make_strategy(const StrategyConfig& config);

// RAWM's coefficient (n_real + 1) / (n_fake + 1) for labels 0 = real, 1 = fake.
double rawm_beta(const at::Tensor& labels);
// RWM's coefficient tan(pi/4 + 1/2 * sum_i s_i * asin(softmax_batch(z_true)_i)), s_i = +1 real, -1 fake.
double rwm_beta(const at::Tensor& logits, const at::Tensor& labels);

// The published RAWM/RWM/OWM update for one weight matrix, operation for operation: per step,
// r = mean(inputs), k = P r^T, P -= (k k^T) ./ (alpha + k r) (element-wise, by the outer product),
// P /= ||P||_F, Q = I - P (P^T P)^-1 P^T, Q /= ||Q||_F, grad <- grad (P + beta Q)^T (without Q for OWM).
class ReferenceProjector {
 public:
  ReferenceProjector(int64_t dim, double alpha, at::ScalarType dtype);
  at::Tensor step(const at::Tensor& grad, const at::Tensor& inputs, double beta, bool with_q);
  const at::Tensor& p() const { return p_; }
  double last_q_raw_norm() const { return q_raw_norm_; }

 private:
  at::Tensor p_;
  double alpha_;
  double q_raw_norm_ = 0.0;
};

struct TrainConfig {
  int epochs = 10;
  int batch_size = 32;
  double lr = 1e-3;
  double weight_decay = 0.0;
  // "sgd" (momentum 0.9) or "adam". Gradient projection (OWM/RAWM/RWM) protects old inputs only
  // under SGD: Adam's per-coordinate scaling moves the step out of the projected subspace.
  std::string optimizer = "sgd";
  double grad_clip = 5.0;      // max global gradient norm after the strategy's hook; 0 disables
  bool class_balanced = true;  // weight the loss by inverse class frequency of the task
  bool freeze_backbone_after_first_task = false;
  int pretrained_tasks = 0;  // the first N tasks are already trained into the model (hooks still run)
  std::uint64_t seed = 0;
  c10::Device device = c10::Device(c10::DeviceType::CPU);
};

// Trains `model` on one task with the strategy's hooks; returns the mean training loss of the last epoch.
double train_task(SpoofModel& model, ContinualStrategy& strategy, int task, const LabeledSet& train,
                  const TrainConfig& config);

// P(fake) for every input of the set.
at::Tensor predict_scores(SpoofModel& model, const LabeledSet& set, const c10::Device& device,
                          int batch_size = 64);
// ASVspoof EER (fraction) of the model on the set.
double evaluate_eer(SpoofModel& model, const LabeledSet& set, const c10::Device& device);

struct ContinualResult {
  std::string strategy;
  std::vector<std::string> tasks;
  std::uint64_t seed = 0;
  // eer[i][j]: EER on task i's test set after training task j.
  std::vector<std::vector<double>> eer;
  double average_eer = 0.0;  // mean over tasks of the final column
  // Backward transfer in EER: mean over i < T-1 of eer[i][T-1] - eer[i][i]; positive = forgetting.
  double forgetting = 0.0;
  std::vector<double> train_loss;  // last-epoch training loss per task
};

ContinualResult run_continual(SpoofModel& model, ContinualStrategy& strategy,
                              const std::vector<ContinualTask>& tasks, const TrainConfig& config);

// {"strategy", "seed", "tasks", "eer", "average_eer", "forgetting", "train_loss"} as JSON text.
std::string to_json(const ContinualResult& result);
// The EER matrix in percent, one row per task, one column per "after task".
std::string format_table(const ContinualResult& result);

}  // namespace dfscan::audio
