#pragma once
// `dfscan train`: a deterministic trainer with per-epoch atomic checkpoints and exact resume.
//
// Determinism: every random choice derives from (seed, epoch, sample index): the sampler's order,
// each sample's augmentation, and the torch generator state, which is saved with each checkpoint.
// On the CPU a run resumed from a checkpoint therefore ends bit-identical to an uninterrupted one.
//
// Selection: model selection, early stopping and the decision threshold use the validation split
// only; the test split is never read by the trainer.
#include <ATen/Tensor.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dfscan/dataset.hpp"

namespace torch::nn {
class Module;
}

namespace dfscan::train {

// Per-sample augmentations, each applied with its probability. Randomness is drawn from a generator
// seeded with sample_seed(seed, epoch, index), so it does not depend on threads or on resuming.
struct AugmentOptions {
  bool enabled = false;
  double flip = 0.5;  // horizontal flip
  double crop = 0.5;  // random resized crop, area in [crop_min_area, 1], aspect 3/4..4/3
  double crop_min_area = 0.6;
  double jpeg = 0.0;  // JPEG re-compression at quality in [jpeg_quality_min, 95] (media builds only)
  int jpeg_quality_min = 30;
  double blur = 0.2;   // Gaussian blur, sigma in [0.1, 2]
  double noise = 0.2;  // additive Gaussian noise, sigma in [0, noise_sigma] (of 255)
  double noise_sigma = 8.0;
  double color = 0.3;      // brightness, contrast, saturation jitter of +-20 %
  double downscale = 0.2;  // down-then-up scaling by a factor in [0.25, 0.9]
};

// `--augment SPEC`: "none"; "default" (the probabilities above, JPEG off); or a comma list such as
// "default,jpeg" or "flip,jpeg=0.3,noise": NAME alone takes its default probability (jpeg 0.5),
// NAME=P sets it, -NAME drops it; a list starts from nothing unless it names "default". Names:
// flip, crop, jpeg, blur, noise, color, downscale. Throws dfscan::Error on anything else.
AugmentOptions parse_augment_spec(const std::string& spec);

struct TrainOptions {
  int epochs = 10;
  int64_t batch_size = 32;
  int64_t max_steps = 0;            // > 0: stop after this many optimizer steps in total
  std::string optimizer = "adamw";  // adam | adamw | sgd
  double lr = 1e-4;
  double momentum = 0.9;  // sgd
  double weight_decay = 0.0;
  std::string schedule = "constant";  // constant | step | cosine
  int64_t warmup_steps = 0;           // linear warm-up from lr/warmup_steps to lr
  int step_epochs = 10;               // step schedule: multiply by gamma every step_epochs epochs
  double gamma = 0.1;
  double clip_grad_norm = 0.0;   // > 0: clip the global L2 norm of the gradients
  std::string balance = "none";  // none | sampler (class-weighted sampling) | loss (class-weighted loss)
  uint64_t seed = 0;
  std::string device = "cpu";
  int workers = 2;                 // sample-loading and augmentation threads
  std::string precision = "fp32";  // fp32 | bf16 (CUDA autocast) | fp16 (CUDA autocast + loss scaling)
  int patience = 0;                // > 0: stop after this many epochs without validation improvement
  std::string select = "auc";      // validation metric for model selection: auc | loss
  std::string threshold = "eer";   // eer | balanced-accuracy: how the stored threshold is chosen
  int64_t input_size = 0;          // > 0: train and validate at this square size
  AugmentOptions augment;
  std::filesystem::path checkpoint_dir;  // empty: no checkpoints, no resume
  bool resume = false;
  std::filesystem::path log_path;  // JSONL metrics log; empty: none
  bool progress = true;            // a progress line on stderr when it is a terminal
  // auto: data-parallel over c10d when a launcher (torchrun, Slurm, scripts/launch-local.sh) set
  // RANK/WORLD_SIZE or SLURM_*; batch_size stays the global batch, split evenly over the ranks. on: as
  // auto, and also as a world of one (a backend smoke test). off: never.
  std::string distributed = "auto";
};

// How the network's output becomes P(fake), and therefore which loss trains it.
struct ScoreRule {
  std::string activation = "softmax";  // sigmoid: one logit, BCE; softmax: K logits, cross-entropy
  int fake_index = 0;                  // softmax: the class that means fake
};

struct InputSpec {
  int64_t size = 224;  // square network input
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  std::array<double, 3> std{0.229, 0.224, 0.225};
};

struct TrainableModel {
  std::shared_ptr<torch::nn::Module> net;
  // Normalised batch [N,3,S,S] -> raw outputs [N,K]; the module's train/eval mode is set by the trainer.
  std::function<at::Tensor(const at::Tensor&)> forward;
  ScoreRule score;
  InputSpec input;
};

// How many unreadable samples a training log and manifest name (all are counted).
inline constexpr std::size_t kUnreadableListed = 20;

struct TrainResult {
  int epochs_run = 0;
  int64_t steps = 0;
  int best_epoch = -1;  // 0-based; -1 without validation data (then the last epoch is kept)
  double threshold = 0.5;
  std::string threshold_source;
  nlohmann::json validation;  // the selected epoch's validation metrics
  nlohmann::json history;     // one object per epoch
  bool resumed = false;
  bool stopped_early = false;
  int rank = 0;  // distributed: only rank 0 holds the selected weights and writes files
  int world_size = 1;
  // Samples left out because they could not be read: {"count": N, "files": [{"path", "error"}, ...]}
  // (the first kUnreadableListed). A distributed rank knows of those in its slices and validation.
  nlohmann::json unreadable = {{"count", 0}, {"files", nlohmann::json::array()}};
};

// The seed of epoch `epoch`'s sampler permutation: torch.randperm(n, generator seeded with it).
uint64_t epoch_seed(uint64_t seed, int64_t epoch);
// The seed of one sample's augmentation in one epoch.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);

// The order in which an epoch visits the training samples (indices into `labels`). Without
// balancing: randperm; with balance == "sampler": n draws with replacement, each class equally likely.
std::vector<int64_t> epoch_order(const std::vector<int>& labels, uint64_t seed, int64_t epoch,
                                 const std::string& balance);

// Loss of raw outputs [N,K] against labels [N] (1 = fake) under `rule`; `class_weights` is empty or
// {w_real, w_fake}.
at::Tensor classification_loss(const at::Tensor& outputs, const at::Tensor& labels, const ScoreRule& rule,
                               const std::vector<double>& class_weights = {});
// P(fake) [N] of raw outputs [N,K].
at::Tensor fake_probability(const at::Tensor& outputs, const ScoreRule& rule);

// Trains `model` in place on the train split of `dataset`, validating on its valid split; on return
// the model holds the selected epoch's weights. Throws dfscan::Error.
TrainResult train(TrainableModel& model, const data::Dataset& dataset, const TrainOptions& options);

// The whole `dfscan train`: build the architecture (or load --init), train, and write a model file
// whose manifest records arch, config, input/faces/score, threshold + threshold_source, data and
// provenance.
struct TrainModelRequest {
  std::string arch;
  nlohmann::json arch_config;  // empty: the architecture's default
  std::string init_model;      // fine-tune this model file instead of starting untrained
  std::string data_spec;       // folder or CSV (data::open_dataset)
  std::filesystem::path output;
  std::string name;  // defaults to the output's stem
  TrainOptions options;
};
struct TrainModelResult {
  TrainResult train;
  std::string hash;
  nlohmann::json manifest;
};
TrainModelResult train_model(const TrainModelRequest& request);

}  // namespace dfscan::train
