// `dfscan train` end to end: architecture registry -> trainer -> model file with manifest.
#include <torch/torch.h>

#include "detectors/architecture.hpp"
#include "dfscan/checkpoint.hpp"
#include "dfscan/config.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/sbi.hpp"
#include "dfscan/status.hpp"
#include "dfscan/train.hpp"

namespace dfscan::train {
using nlohmann::json;

namespace {

InputSpec input_spec(const json& input, int64_t size_override, const std::string& arch) {
  InputSpec spec;
  if (input.contains("mean")) {
    const auto m = input["mean"].get<std::vector<double>>();
    const auto s = input["std"].get<std::vector<double>>();
    if (m.size() != 3 || s.size() != 3) throw Error(Status::error, "manifest input mean/std need 3 values");
    std::copy(m.begin(), m.end(), spec.mean.begin());
    std::copy(s.begin(), s.end(), spec.std.begin());
  }
  if (size_override > 0) {
    spec.size = size_override;
  } else if (input.contains("size") && input["size"].is_number_integer()) {
    spec.size = input["size"].get<int64_t>();
  } else {
    throw Error(Status::error,
                arch + " takes inputs at their native size; give --input-size to train at a fixed size");
  }
  return spec;
}

json training_options_json(const TrainOptions& o) {
  return {{"epochs", o.epochs},
          {"batch", o.batch_size},
          {"max_steps", o.max_steps},
          {"optimizer", o.optimizer},
          {"lr", o.lr},
          {"momentum", o.momentum},
          {"weight_decay", o.weight_decay},
          {"schedule", o.schedule},
          {"warmup_steps", o.warmup_steps},
          {"clip_grad_norm", o.clip_grad_norm},
          {"balance", o.balance},
          {"seed", o.seed},
          {"precision", o.precision},
          {"patience", o.patience},
          {"select", o.select},
          {"threshold", o.threshold},
          {"input_size", o.input_size},
          {"augment", o.augment.enabled}};
}

}  // namespace

TrainModelResult train_model(const TrainModelRequest& r) {
  // Untrained weights depend on the seed alone.
  torch::manual_seed(r.options.seed);
  json manifest;
  json provenance = {{"trained_by", "dfscan train"}};
  const detectors::Architecture* arch = nullptr;
  std::shared_ptr<torch::nn::Module> net;
  json config;
  if (!r.init_model.empty()) {
    const auto path = resolve_model(r.init_model);
    auto file = io::read_model_file(path);
    manifest = file.manifest;
    const auto arch_name = manifest.at("arch").get<std::string>();
    if (!r.arch.empty() && r.arch != arch_name)
      throw Error(Status::error,
                  "--arch " + r.arch + " but --init " + path.string() + " is a " + arch_name + " model");
    arch = &detectors::find_architecture(arch_name);
    config = manifest.value("config", json::object());
    net = arch->build(config);
    io::load_into(*net, file.tensors, /*strict=*/true);
    provenance["init"] = {{"model", path.filename().string()}, {"hash", manifest.value("hash", "")}};
  } else {
    if (r.arch.empty()) throw Error(Status::error, "--arch or --init is required");
    arch = &detectors::find_architecture(r.arch);
    manifest = arch->defaults();
    config = r.arch_config.is_null() ? json::object() : r.arch_config;
    try {
      net = arch->build(config);
    } catch (const std::exception& e) {
      throw Error(Status::error, "cannot build " + r.arch + " from its config (" + one_line(e.what()) +
                                     "); give --arch-config");
    }
    provenance["init"] = {{"seed", r.options.seed}};
  }

  TrainableModel model;
  model.net = net;
  const json forward_manifest = manifest;
  model.forward = [arch, net, forward_manifest](const at::Tensor& batch) {
    return arch->forward(*net, batch, forward_manifest);
  };
  const auto& score = manifest.at("score");
  model.score.activation = score.value("activation", "sigmoid");
  model.score.fake_index = score.value("fake_index", 0);
  model.input = input_spec(manifest.value("input", json::object()), r.options.input_size, arch->name);

  const auto dataset = data::open_dataset(r.data_spec);
  TrainModelResult out;
  out.train = train(model, dataset, r.options);
  if (out.train.rank != 0) return out;  // distributed: rank 0 alone writes the model file

  manifest.erase("hash");
  manifest["format"] = "dfscan.model/1";
  manifest["arch"] = arch->name;
  manifest["config"] = config;
  manifest["modality"] = arch->modality;
  manifest["name"] = r.name.empty() ? r.output.stem().string() : r.name;
  if (r.options.input_size > 0) {
    manifest["input"]["resize"] = "resize";
    manifest["input"]["size"] = model.input.size;
    if (manifest.contains("faces") && manifest["faces"].is_object())
      manifest["faces"]["input_size"] = model.input.size;
  }
  if (out.train.best_epoch >= 0) {
    manifest["threshold"] = out.train.threshold;
    manifest["threshold_source"] = out.train.threshold_source;
  } else {
    manifest["threshold_source"] = out.train.threshold_source + "; " + manifest.value("threshold_source", "");
  }
  manifest["training"] = {{"data", dataset.source()},
                          {"splits", json::parse(dataset.summary())},
                          {"options", training_options_json(r.options)},
                          {"epochs_run", out.train.epochs_run},
                          {"steps", out.train.steps},
                          {"selected_epoch", out.train.best_epoch + 1},
                          {"selection", "validation " + r.options.select + " (test split never used)"},
                          {"validation", out.train.validation},
                          {"stopped_early", out.train.stopped_early}};
  if (out.train.unreadable.value("count", 0) > 0)
    manifest["training"]["unreadable_samples"] = out.train.unreadable;
  // Terms that come with what the model learnt from, beyond the data's own.
  if (data::landmark_model_used()) manifest["training"]["terms"] = {data::landmark_model_notice()};
  manifest["provenance"] = provenance;
  manifest["dfscan_version"] = DFSCAN_VERSION;

  io::StateDict weights;
  for (const auto& item : net->named_parameters())
    weights.insert(item.key(), item.value().detach().to(torch::kCPU));
  for (const auto& item : net->named_buffers())
    weights.insert(item.key(), item.value().detach().to(torch::kCPU));
  out.hash = io::write_model_file(r.output, weights, manifest);
  manifest["hash"] = out.hash;
  out.manifest = manifest;
  return out;
}

}  // namespace dfscan::train
