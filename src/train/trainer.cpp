// The training loop: deterministic sampling and augmentation, per-epoch checkpoints, validation-only
// model selection and threshold choice.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "dfscan/json_text.hpp"
#include "dfscan/log.hpp"
#include "dfscan/metrics.hpp"
#include "dfscan/nn/shortcuts.hpp"
#include "dfscan/runtime.hpp"
#include "dfscan/sbi.hpp"
#include "dfscan/status.hpp"
#include "dfscan/text.hpp"
#include "dfscan/train.hpp"
#include "train/amp.hpp"
#include "train/augment.hpp"
#include "train/distributed.hpp"
#include "train/optim.hpp"
#include "train/train_checkpoint.hpp"

namespace dfscan::train {
namespace fs = std::filesystem;
using nlohmann::json;

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  return seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(epoch + 1);
}

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  // splitmix64 over the three inputs: nearby (epoch, index) pairs get unrelated streams.
  auto mix = [](uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index));
}

std::vector<int64_t> epoch_order(const std::vector<int>& labels, uint64_t seed, int64_t epoch,
                                 const std::string& balance) {
  const auto n = static_cast<int64_t>(labels.size());
  auto gen = at::make_generator<at::CPUGeneratorImpl>(epoch_seed(seed, epoch));
  at::Tensor order;
  if (balance == "sampler") {
    int64_t fakes = 0;
    for (int l : labels) fakes += l;
    const int64_t reals = n - fakes;
    if (fakes == 0 || reals == 0)
      throw Error(Status::error, "class-balanced sampling needs both classes in train");
    std::vector<double> w(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) w[i] = labels[i] == 1 ? 0.5 / fakes : 0.5 / reals;
    order = torch::multinomial(torch::tensor(w, torch::kDouble), n, /*replacement=*/true, gen);
  } else {
    order = torch::randperm(n, gen, torch::kLong);
  }
  return std::vector<int64_t>(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + order.numel());
}

at::Tensor classification_loss(const at::Tensor& outputs, const at::Tensor& labels, const ScoreRule& rule,
                               const std::vector<double>& class_weights) {
  const auto out = outputs.to(torch::kFloat);
  if (rule.activation == "sigmoid") {
    const auto target = labels.to(out.device()).to(torch::kFloat);
    auto options = torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions();
    if (!class_weights.empty()) {
      // Per-sample weight: w_fake for fakes, w_real for reals.
      options.weight(target * class_weights[1] + (1 - target) * class_weights[0]);
    }
    return torch::nn::functional::binary_cross_entropy_with_logits(out.select(1, 0), target, options);
  }
  if (rule.activation != "softmax")
    throw Error(Status::error, "unknown score activation '" + rule.activation + "'");
  if (out.size(1) != 2) throw Error(Status::error, "softmax training expects two logits per sample");
  const int64_t fake = rule.fake_index, real = 1 - rule.fake_index;
  const auto l = labels.to(out.device()).to(torch::kLong);
  const auto target = l * fake + (1 - l) * real;
  auto options = torch::nn::functional::CrossEntropyFuncOptions();
  if (!class_weights.empty()) {
    std::vector<float> w(2);
    w[static_cast<size_t>(fake)] = static_cast<float>(class_weights[1]);
    w[static_cast<size_t>(real)] = static_cast<float>(class_weights[0]);
    options.weight(torch::tensor(w).to(out.device()));
  }
  return torch::nn::functional::cross_entropy(out, target, options);
}

at::Tensor fake_probability(const at::Tensor& outputs, const ScoreRule& rule) {
  const auto out = outputs.to(torch::kFloat);
  if (rule.activation == "sigmoid") return torch::sigmoid(out.select(1, 0));
  return torch::softmax(out, 1).select(1, rule.fake_index);
}

namespace {

struct Batch {
  at::Tensor images;  // [B,3,S,S] normalised; undefined when no sample of the batch could be read
  at::Tensor labels;  // [B] int64, 1 = fake
  bool empty() const { return !images.defined(); }
};

// Samples that could not be read (a corrupt, truncated or mislabelled file). One bad file in a
// large dataset must not cost the run: it is left out of its batches, named once in the log, and
// listed in the result. Reading it fails the same way every time, so a resumed run leaves out the
// same samples.
class UnreadableSamples {
 public:
  void note(const std::string& path, const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!seen_.insert(path).second) return;
    if (files_.size() < kUnreadableListed) {
      files_.push_back({{"path", path}, {"error", message}});
      log::warn("left out of training, unreadable: " + path + ": " + message);
      if (files_.size() == kUnreadableListed) log::warn("further unreadable samples are counted, not logged");
    }
  }
  std::size_t count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_.size();
  }
  std::string first() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return files_.empty() ? std::string()
                          : files_.front()["path"].get<std::string>() + ": " +
                                files_.front()["error"].get<std::string>();
  }
  json to_json() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {{"count", seen_.size()}, {"files", files_}};
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::string> seen_;
  json files_ = json::array();
};

class BatchLoader {
 public:
  BatchLoader(const TrainableModel& model, const TrainOptions& options, UnreadableSamples& unreadable)
      : input_(model.input), options_(options), unreadable_(unreadable) {
    size_ = options.input_size > 0 ? options.input_size : model.input.size;
    mean_ = torch::tensor(std::vector<float>(input_.mean.begin(), input_.mean.end())).view({3, 1, 1});
    std_ = torch::tensor(std::vector<float>(input_.std.begin(), input_.std.end())).view({3, 1, 1});
  }

  int64_t size() const { return size_; }

  // Samples `indices` of `samples`; augmentation (train only) seeded by (seed, epoch, index), so
  // leaving out an unreadable sample changes no other sample of the batch.
  Batch load(const std::vector<data::Sample>& samples, const std::vector<int64_t>& indices, int64_t epoch,
             bool train) const {
    std::vector<at::Tensor> images(indices.size());
    std::vector<int64_t> labels(indices.size());
    auto work = [&](size_t i) {
      const auto& s = samples[static_cast<size_t>(indices[i])];
      AugmentOptions aug = options_.augment;
      aug.enabled = aug.enabled && train;
      at::Tensor raw;
      try {
        raw = reader_.read(s);
      } catch (const Error& e) {
        // The reader's messages start with the path already.
        std::string message = e.what();
        if (message.rfind(s.path + ": ", 0) == 0) message.erase(0, s.path.size() + 2);
        unreadable_.note(s.path, message);
        return;
      }
      // Self-blend samples are blended from their decoded real image first, with their own seed stream.
      raw = data::blend_sample(raw, s, sample_seed(~options_.seed, epoch, indices[i]));
      auto img = augment(raw, aug, sample_seed(options_.seed, epoch, indices[i]));
      img = resize_square(img, size_);
      images[i] = (img - mean_) / std_;
      labels[i] = s.label;
    };
    const size_t workers = static_cast<size_t>(std::max(0, options_.workers));
    if (workers <= 1 || indices.size() <= 1) {
      for (size_t i = 0; i < indices.size(); ++i) work(i);
    } else {
      std::vector<std::thread> threads;
      std::vector<std::exception_ptr> errors(std::min(workers, indices.size()));
      for (size_t t = 0; t < errors.size(); ++t) {
        threads.emplace_back([&, t] {
          try {
            for (size_t i = t; i < indices.size(); i += errors.size()) work(i);
          } catch (...) {
            errors[t] = std::current_exception();
          }
        });
      }
      for (auto& th : threads) th.join();
      for (auto& e : errors)
        if (e) std::rethrow_exception(e);
    }
    std::vector<at::Tensor> read;
    std::vector<int64_t> read_labels;
    for (size_t i = 0; i < images.size(); ++i)
      if (images[i].defined()) {
        read.push_back(images[i]);
        read_labels.push_back(labels[i]);
      }
    if (read.empty()) return Batch{};
    return Batch{torch::stack(read), torch::tensor(read_labels, torch::kLong)};
  }

 private:
  InputSpec input_;
  const TrainOptions& options_;
  UnreadableSamples& unreadable_;
  int64_t size_ = 224;
  at::Tensor mean_, std_;
  data::SampleReader reader_;
};

json metric_json(const eval::Metric& m) {
  return m.defined() ? json(*m.value) : json(nullptr);
}

struct Validation {
  json metrics;
  std::vector<double> scores;
  std::vector<int> labels;
};

Validation validate(TrainableModel& model, const BatchLoader& loader,
                    const std::vector<data::Sample>& samples, const TrainOptions& o,
                    const c10::Device& device) {
  Validation v;
  if (samples.empty()) return v;
  torch::NoGradGuard no_grad;
  // Validation picks the epoch and the threshold, so it is part of training and, like it, runs the
  // reference's operators: a rerun reproduces a model bit for bit, whatever inference shortcuts
  // dfscan adds later.
  const nn::ScopedShortcuts reference_ops(false);
  model.net->eval();
  double loss_sum = 0.0;
  for (size_t start = 0; start < samples.size(); start += static_cast<size_t>(o.batch_size)) {
    std::vector<int64_t> idx;
    for (size_t i = start; i < std::min(samples.size(), start + static_cast<size_t>(o.batch_size)); ++i)
      idx.push_back(static_cast<int64_t>(i));
    auto batch = loader.load(samples, idx, 0, /*train=*/false);
    if (batch.empty()) continue;
    at::Tensor out;
    {
      AutocastGuard autocast(o.precision);
      out = model.forward(batch.images.to(device)).to(torch::kFloat);
    }
    const auto n = batch.labels.size(0);
    loss_sum += classification_loss(out, batch.labels, model.score).item<double>() * static_cast<double>(n);
    auto p = fake_probability(out, model.score).to(torch::kCPU).to(torch::kDouble).contiguous();
    v.scores.insert(v.scores.end(), p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
    const auto labels = batch.labels.contiguous();
    v.labels.insert(v.labels.end(), labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + n);
  }
  if (v.scores.empty()) throw Error(Status::error, "no validation sample could be read");
  const auto eer = eval::equal_error_rate(v.labels, v.scores);
  v.metrics = {{"n", v.scores.size()},
               {"loss", loss_sum / static_cast<double>(v.scores.size())},
               {"auc", metric_json(eval::roc_auc(v.labels, v.scores))},
               {"ap", metric_json(eval::average_precision(v.labels, v.scores))},
               {"log_loss", metric_json(eval::log_loss(v.labels, v.scores))},
               {"eer", metric_json(eer.eer)},
               {"eer_threshold", metric_json(eer.threshold)},
               {"balanced_accuracy_at_0.5",
                metric_json(eval::balanced_accuracy(eval::confusion_at(v.labels, v.scores, 0.5)))}};
  return v;
}

// True when `candidate` beats `best` on the selection metric (auc: higher; loss: lower).
bool improves(const json& candidate, const json& best, const std::string& select) {
  const auto& c = candidate[select];
  if (c.is_null()) return false;
  if (best.is_null() || best[select].is_null()) return true;
  return select == "auc" ? c.get<double>() > best[select].get<double>()
                         : c.get<double>() < best[select].get<double>();
}

// The threshold on P(fake) stored in the model, chosen on validation scores.
std::pair<double, std::string> choose_threshold(const std::vector<int>& labels,
                                                const std::vector<double>& scores, const std::string& rule,
                                                int epoch) {
  const std::string where = "validation split (" + std::to_string(scores.size()) + " samples, epoch " +
                            std::to_string(epoch + 1) + ")";
  if (rule == "eer") {
    const auto eer = eval::equal_error_rate(labels, scores);
    if (!eer.threshold.defined())
      throw Error(Status::error, "cannot choose a threshold: " + eer.threshold.reason);
    return {*eer.threshold.value, "eer: the equal-error-rate threshold (ASVspoof scorer) on the " + where};
  }
  if (rule == "balanced-accuracy") {
    // Candidate cut-offs are the distinct scores; the lowest cut-off among ties wins.
    std::vector<double> cuts(scores);
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    double best_t = 0.5, best_b = -1.0;
    for (double t : cuts) {
      const auto b = eval::balanced_accuracy(eval::confusion_at(labels, scores, t));
      if (b.defined() && *b.value > best_b) {
        best_b = *b.value;
        best_t = t;
      }
    }
    if (best_b < 0) throw Error(Status::error, "cannot choose a threshold: validation needs both classes");
    return {best_t,
            "balanced-accuracy: the score cut-off with the highest balanced accuracy on the " + where};
  }
  throw Error(Status::error, "unknown threshold rule '" + rule + "' (eer, balanced-accuracy)");
}

void check_options(const TrainOptions& o) {
  if (o.epochs < 1) throw Error(Status::error, "--epochs must be at least 1");
  if (o.batch_size < 1) throw Error(Status::error, "--batch must be at least 1");
  if (!(o.lr > 0)) throw Error(Status::error, "--lr must be positive");
  if (o.balance != "none" && o.balance != "sampler" && o.balance != "loss")
    throw Error(Status::error, "unknown balance '" + o.balance + "' (none, sampler, loss)");
  if (o.select != "auc" && o.select != "loss")
    throw Error(Status::error, "unknown selection metric '" + o.select + "' (auc, loss)");
  if (o.threshold != "eer" && o.threshold != "balanced-accuracy")
    throw Error(Status::error, "unknown threshold rule '" + o.threshold + "' (eer, balanced-accuracy)");
  if (o.resume && o.checkpoint_dir.empty()) throw Error(Status::error, "--resume needs a checkpoint folder");
  if (o.augment.enabled && o.augment.jpeg > 0 && !jpeg_available())
    throw Error(Status::unsupported,
                "the jpeg augmentation needs the media build (DFSCAN_WITH_MEDIA=ON, OpenCV's JPEG codec)");
  (void)lr_at(o, 0, 0, 1);  // validates the schedule name
}

// Options that must not change between a run and its resumption.
json fingerprint(const TrainOptions& o, size_t n_train, size_t n_valid) {
  return {{"seed", o.seed},
          {"batch", o.batch_size},
          {"optimizer", o.optimizer},
          {"lr", o.lr},
          {"momentum", o.momentum},
          {"weight_decay", o.weight_decay},
          {"schedule", o.schedule},
          {"warmup", o.warmup_steps},
          {"balance", o.balance},
          {"precision", o.precision},
          {"input_size", o.input_size},
          {"augment", o.augment.enabled ? augment_to_json(o.augment) : json(false)},
          {"clip", o.clip_grad_norm},
          {"n_train", n_train},
          {"n_valid", n_valid},
          {"epochs", o.schedule == "cosine" ? json(o.epochs) : json(nullptr)}};
}

class JsonlLog {
 public:
  // Opens the log; on resume cuts it back to what the checkpoint had seen, dropping lines written
  // after it (they are about to be written again).
  JsonlLog(const fs::path& path, std::optional<uintmax_t> keep_bytes) : path_(path) {
    if (path.empty()) return;
    std::error_code ec;
    if (keep_bytes && fs::exists(path, ec)) {
      fs::resize_file(path, *keep_bytes, ec);
      out_.open(path, std::ios::app);
    } else {
      out_.open(path, std::ios::trunc);
    }
    if (!out_) throw Error(Status::error, "cannot open metrics log " + path.string());
  }
  void write(const json& record) {
    if (!out_.is_open()) return;
    out_ << json_text(record) << '\n';
    out_.flush();
  }
  uintmax_t size() {
    if (!out_.is_open()) return 0;
    out_.flush();
    std::error_code ec;
    const auto n = fs::file_size(path_, ec);
    return ec ? 0 : n;
  }

 private:
  fs::path path_;
  std::ofstream out_;
};

std::vector<at::Tensor> trainable_parameters(torch::nn::Module& net) {
  std::vector<at::Tensor> params;
  for (auto& p : net.parameters())
    if (p.requires_grad()) params.push_back(p);
  return params;
}

// The selected weights are named by epoch, and only the one the newest checkpoint names is kept,
// so a run killed between writing them and the checkpoint resumes with a consistent pair.
std::string best_weights_name(int epoch) {
  char name[32];
  std::snprintf(name, sizeof name, "best-epoch-%04d.pt", epoch + 1);
  return name;
}

void remove_other_best_weights(const fs::path& dir, const std::string& keep) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("best-epoch-", 0) == 0 && name != keep) fs::remove(entry.path(), ec);
  }
}

void clear_checkpoints(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("epoch-", 0) == 0 || name.rfind("best-epoch-", 0) == 0) fs::remove(entry.path(), ec);
  }
}

std::vector<at::Tensor> snapshot(torch::nn::Module& net) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> state;
  for (auto& p : net.parameters()) state.push_back(p.detach().clone());
  for (auto& b : net.buffers()) state.push_back(b.detach().clone());
  return state;
}

void restore(torch::nn::Module& net, const std::vector<at::Tensor>& state) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : net.parameters()) p.copy_(state.at(i++));
  for (auto& b : net.buffers()) b.copy_(state.at(i++));
}

}  // namespace

TrainResult train(TrainableModel& model, const data::Dataset& dataset, const TrainOptions& o) {
  check_options(o);
  auto device = parse_device(o.device);
  // Data parallel when a launcher says so: each rank trains on its slice of every global batch.
  const auto dp = join_data_parallel(o.distributed, o.device, device);
  const int rank = dp ? dp->rank() : 0, world = dp ? dp->world_size() : 1;
  const bool writer = rank == 0;  // rank 0 alone validates and writes checkpoints and logs
  if (o.batch_size % world != 0)
    throw Error(Status::error, "--batch " + std::to_string(o.batch_size) + " does not split evenly over " +
                                   std::to_string(world) + " ranks");
  check_precision(o.precision, device);
  const auto train_samples = dataset.split(data::Split::train);
  const auto valid_samples = dataset.split(data::Split::valid);
  if (train_samples.empty()) throw Error(Status::error, "the dataset has no train split");
  const auto steps_per_epoch = static_cast<int64_t>(train_samples.size()) / o.batch_size;
  if (o.balance != "sampler" && steps_per_epoch == 0)
    throw Error(Status::error, "--batch " + std::to_string(o.batch_size) +
                                   " is larger than the train split (" +
                                   std::to_string(train_samples.size()) + " samples)");
  std::vector<int> train_labels;
  for (const auto& s : train_samples) train_labels.push_back(s.label);
  std::vector<double> class_weights;
  if (o.balance == "loss") {
    const double fakes = std::count(train_labels.begin(), train_labels.end(), 1);
    const double reals = static_cast<double>(train_labels.size()) - fakes;
    if (fakes == 0 || reals == 0)
      throw Error(Status::error, "class-weighted loss needs both classes in train");
    const double n = static_cast<double>(train_labels.size());
    class_weights = {n / (2 * reals), n / (2 * fakes)};
  }
  if (o.select == "auc" && !valid_samples.empty()) {
    const auto fakes =
        std::count_if(valid_samples.begin(), valid_samples.end(), [](auto& s) { return s.label == 1; });
    if (fakes == 0 || fakes == static_cast<long>(valid_samples.size()))
      throw Error(Status::error, "model selection by AUC needs both classes in the validation split");
  }

  model.net->to(device);
  const auto params = trainable_parameters(*model.net);
  auto optimizer = make_optimizer(params, o);
  UnreadableSamples unreadable;
  const BatchLoader loader(model, o, unreadable);
  const json print = fingerprint(o, train_samples.size(), valid_samples.size());

  TrainResult result;
  int start_epoch = 0;
  int64_t step = 0;
  json best_metrics = nullptr, history = json::array();
  int best_epoch = -1, stale_epochs = 0;
  std::vector<double> best_scores;
  std::vector<int> best_labels;
  std::string best_file;               // with checkpoints: DIR/best-epoch-NNNN.pt
  std::vector<at::Tensor> best_state;  // without: a copy in memory
  LossScaler scaler;
  std::optional<uintmax_t> log_keep;
  if (!o.checkpoint_dir.empty() && writer) {
    fs::create_directories(o.checkpoint_dir);
    // A fresh run must not leave an older run's later epochs for a future --resume to pick up.
    if (!o.resume) clear_checkpoints(o.checkpoint_dir);
  }

  if (o.resume) {
    if (auto latest = latest_checkpoint(o.checkpoint_dir)) {
      const json meta = load_checkpoint(*latest, *model.net, *optimizer);
      for (auto it = print.begin(); it != print.end(); ++it)
        if (meta["fingerprint"][it.key()] != it.value())
          throw Error(Status::error, "cannot resume from " + latest->string() + ": '" + it.key() + "' was " +
                                         meta["fingerprint"][it.key()].dump() + ", now " + it.value().dump());
      start_epoch = meta["epoch"].get<int>();
      step = meta["step"].get<int64_t>();
      history = meta["history"];
      best_epoch = meta["best"]["epoch"].get<int>();
      best_file = meta["best"]["weights"].get<std::string>();
      best_metrics = meta["best"]["metrics"];
      best_scores = meta["best"]["scores"].get<std::vector<double>>();
      best_labels = meta["best"]["labels"].get<std::vector<int>>();
      stale_epochs = meta["epochs_without_improvement"].get<int>();
      scaler.scale = meta["loss_scale"]["scale"].get<double>();
      scaler.clean_steps = meta["loss_scale"]["clean_steps"].get<int64_t>();
      log_keep = meta["log_bytes"].get<uintmax_t>();
      result.resumed = true;
      result.stopped_early = meta.value("stopped_early", false);
      log::info("resuming from " + latest->string() + " (epoch " + std::to_string(start_epoch) + ", step " +
                std::to_string(step) + ")");
    } else {
      log::info("no checkpoint in " + o.checkpoint_dir.string() + "; starting fresh");
    }
  }
  if (!result.resumed) torch::manual_seed(o.seed);
  if (dp) {
    // Every rank resumes from the same (shared) checkpoint folder or none starts from one.
    const auto where = dp->broadcast_from_rank0(std::vector<int64_t>{start_epoch, step});
    if (dp->average(where[0] != start_epoch || where[1] != step ? 1.0 : 0.0) > 0)
      throw Error(Status::error,
                  "ranks disagree on where to resume (rank 0: epoch " + std::to_string(where[0]) +
                      "); --resume needs the checkpoint folder on a filesystem every rank sees");
    std::vector<at::Tensor> state = model.net->parameters();
    for (auto& b : model.net->buffers()) state.push_back(b);
    dp->broadcast_from_rank0(state);
    dp->attach(params);
  }
  JsonlLog metrics_log(writer ? o.log_path : fs::path(), log_keep);
  if (!result.resumed)
    metrics_log.write(
        {{"type", "start"}, {"options", print}, {"data", dataset.source()}, {"device", device.str()}});

  const bool tty = o.progress && writer && ::isatty(STDERR_FILENO);
  auto finished = [&] { return result.stopped_early || (o.max_steps > 0 && step >= o.max_steps); };
  for (int epoch = start_epoch; epoch < o.epochs && !finished(); ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto order = epoch_order(train_labels, o.seed, epoch, o.balance);
    const int64_t batches = static_cast<int64_t>(order.size()) / o.batch_size;
    const int64_t per_rank = o.batch_size / world;
    auto batch_indices = [&](int64_t b) {
      const auto first = order.begin() + b * o.batch_size + rank * per_rank;
      return std::vector<int64_t>(first, first + per_rank);
    };
    auto load = [&](int64_t b) { return loader.load(train_samples, batch_indices(b), epoch, true); };
    std::future<Batch> next = std::async(std::launch::async, load, 0);
    double loss_sum = 0.0;
    int64_t loss_count = 0, skipped = 0, unreadable_batches = 0;
    model.net->train();
    for (int64_t b = 0; b < batches; ++b) {
      if (o.max_steps > 0 && step >= o.max_steps) break;
      Batch batch = next.get();
      if (b + 1 < batches) next = std::async(std::launch::async, load, b + 1);
      // A batch none of whose samples could be read is no step; ranks skip it together, since
      // every step all-reduces.
      if (dp ? dp->average(batch.empty() ? 1.0 : 0.0) > 0 : batch.empty()) {
        ++unreadable_batches;
        continue;
      }
      const double lr = lr_at(o, step, epoch, batches);
      set_lr(*optimizer, lr);
      optimizer->zero_grad();
      at::Tensor loss;
      {
        AutocastGuard autocast(o.precision);
        auto out = model.forward(batch.images.to(device));
        loss = classification_loss(out, batch.labels, model.score, class_weights);
      }
      bool apply = true;
      if (dp) dp->prepare_backward();
      if (o.precision == "fp16") {
        (loss * scaler.scale).backward();
        if (dp) dp->finish_backward();
        apply = scaler.unscale_and_check(params);
      } else {
        loss.backward();
        if (dp) dp->finish_backward();
      }
      if (apply) {
        if (o.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, o.clip_grad_norm);
        optimizer->step();
      } else {
        ++skipped;
      }
      // The mean over ranks of their batch means: the global batch's mean loss.
      const double l = dp ? dp->average(loss.item<double>()) : loss.item<double>();
      if (!std::isfinite(l) && o.precision != "fp16")
        throw Error(Status::error,
                    "training diverged: loss is " + std::to_string(l) + " at step " + std::to_string(step));
      loss_sum += l;
      ++loss_count;
      metrics_log.write({{"type", "step"}, {"epoch", epoch + 1}, {"step", step}, {"loss", l}, {"lr", lr}});
      ++step;
      if (tty) {
        const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const auto left =
            format_duration(spent / static_cast<double>(b + 1) * static_cast<double>(batches - b - 1));
        std::fprintf(stderr, "\r\033[Kepoch %d/%d  batch %lld/%lld  loss %.4f  lr %.2e  %s left in the epoch",
                     epoch + 1, o.epochs, static_cast<long long>(b + 1), static_cast<long long>(batches), l,
                     lr, left.c_str());
      }
    }
    if (next.valid()) next.wait();
    if (tty) std::fputc('\n', stderr);
    // Every rank skipped the same batches, so every rank stops here together.
    if (unreadable_batches > 0 && loss_count == 0)
      throw Error(Status::error, "no training batch could be read in epoch " + std::to_string(epoch + 1) +
                                     " (" + std::to_string(unreadable.count()) +
                                     " unreadable samples; first: " + unreadable.first() + ")");

    auto v = writer ? validate(model, loader, valid_samples, o, device) : Validation{};
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    json record = {
        {"type", "epoch"},
        {"epoch", epoch + 1},
        {"step", step},
        {"train_loss", loss_count ? json(loss_sum / static_cast<double>(loss_count)) : json(nullptr)},
        {"valid", v.scores.empty() ? json(nullptr) : v.metrics},
        {"seconds", seconds}};
    if (skipped) record["skipped_steps"] = skipped;
    if (o.precision == "fp16") record["loss_scale"] = scaler.scale;
    if (!v.scores.empty() && improves(v.metrics, best_metrics, o.select)) {
      best_epoch = epoch;
      best_metrics = v.metrics;
      best_scores = v.scores;
      best_labels = v.labels;
      stale_epochs = 0;
      if (!o.checkpoint_dir.empty()) {
        best_file = best_weights_name(epoch);
        save_weights(o.checkpoint_dir / best_file, *model.net);
      } else {
        best_state = snapshot(*model.net);
      }
      record["best"] = true;
    } else if (!v.scores.empty()) {
      ++stale_epochs;
    }
    if (o.patience > 0 && stale_epochs >= o.patience) result.stopped_early = true;
    if (dp)
      result.stopped_early = dp->broadcast_from_rank0(std::vector<int64_t>{result.stopped_early})[0] != 0;
    history.push_back(record);
    metrics_log.write(record);
    log::info("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs) + ": train loss " +
              record["train_loss"].dump() + ", valid " +
              (v.scores.empty() ? std::string("none") : v.metrics.dump()));

    if (!o.checkpoint_dir.empty() && writer) {
      const json meta = {{"format", "dfscan.train-checkpoint/1"},
                         {"epoch", epoch + 1},
                         {"step", step},
                         {"sampler", {{"epoch", epoch + 1}, {"position", 0}}},
                         {"scheduler", {{"step", step}, {"schedule", o.schedule}}},
                         {"best",
                          {{"epoch", best_epoch},
                           {"weights", best_file},
                           {"metrics", best_metrics},
                           {"scores", best_scores},
                           {"labels", best_labels}}},
                         {"epochs_without_improvement", stale_epochs},
                         {"stopped_early", result.stopped_early},
                         {"loss_scale", {{"scale", scaler.scale}, {"clean_steps", scaler.clean_steps}}},
                         {"history", history},
                         {"log_bytes", metrics_log.size()},
                         {"fingerprint", print}};
      save_checkpoint(checkpoint_path(o.checkpoint_dir, epoch + 1), *model.net, *optimizer, meta);
      remove_other_best_weights(o.checkpoint_dir, best_file);
    }
  }

  if (dp) dp->barrier();
  result.rank = rank;
  result.world_size = world;
  result.unreadable = unreadable.to_json();
  result.steps = step;
  result.epochs_run = static_cast<int>(history.size());
  result.history = history;
  result.best_epoch = best_epoch;
  if (best_epoch >= 0) {
    // The selected epoch's weights: from its file when checkpointing (it survives a resume).
    if (!o.checkpoint_dir.empty()) {
      load_weights(o.checkpoint_dir / best_file, *model.net);
    } else {
      restore(*model.net, best_state);
    }
    auto [t, source] = choose_threshold(best_labels, best_scores, o.threshold, best_epoch);
    result.threshold = t;
    result.threshold_source = source;
    result.validation = best_metrics;
  } else {
    result.threshold_source = "no validation split: the architecture's default (not calibrated)";
  }
  metrics_log.write({{"type", "end"},
                     {"best_epoch", best_epoch + 1},
                     {"threshold", result.threshold},
                     {"threshold_source", result.threshold_source},
                     {"steps", step}});
  model.net->eval();
  return result;
}

}  // namespace dfscan::train
