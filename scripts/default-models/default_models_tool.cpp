// Builds and measures dfscan's shipped default models (models/*.safetensors); driven by
// scripts/make-default-models.sh. Not part of the product: tests/models/CMakeLists.txt builds it.
//
//   default_models_tool train RECIPE.json DATA OUT.safetensors
//       trains with the library trainer (dfscan::train::train_model), then rewrites the model file
//       with the recipe's manifest patch (RFC 7386 merge) and, when the recipe says so, float16 storage.
//   default_models_tool evaluate MODEL DATA SPLIT [RESAMPLES]
//       scores SPLIT of DATA through dfscan::Detector (the manifest's own preprocessing) and prints the
//       metrics with stratified 95 % bootstrap intervals as JSON.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "dfscan/dataset.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/metrics.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/report.hpp"
#include "dfscan/runtime.hpp"
#include "dfscan/status.hpp"
#include "dfscan/train.hpp"

namespace {
using nlohmann::json;
namespace fs = std::filesystem;

json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw dfscan::Error(dfscan::Status::not_found, "cannot open " + path.string());
  return json::parse(in);
}

dfscan::train::AugmentOptions augment_from(const json& j) {
  dfscan::train::AugmentOptions a;
  if (j.is_null()) return a;
  a.enabled = true;
  a.flip = j.value("flip", a.flip);
  a.crop = j.value("crop", a.crop);
  a.crop_min_area = j.value("crop_min_area", a.crop_min_area);
  a.jpeg = j.value("jpeg", a.jpeg);
  a.blur = j.value("blur", a.blur);
  a.noise = j.value("noise", a.noise);
  a.noise_sigma = j.value("noise_sigma", a.noise_sigma);
  a.color = j.value("color", a.color);
  a.downscale = j.value("downscale", a.downscale);
  return a;
}

dfscan::train::TrainOptions options_from(const json& j) {
  dfscan::train::TrainOptions o;
  o.epochs = j.value("epochs", o.epochs);
  o.batch_size = j.value("batch", o.batch_size);
  o.max_steps = j.value("max_steps", o.max_steps);
  o.optimizer = j.value("optimizer", o.optimizer);
  o.lr = j.value("lr", o.lr);
  o.weight_decay = j.value("weight_decay", o.weight_decay);
  o.schedule = j.value("schedule", o.schedule);
  o.warmup_steps = j.value("warmup_steps", o.warmup_steps);
  o.clip_grad_norm = j.value("clip_grad_norm", o.clip_grad_norm);
  o.balance = j.value("balance", o.balance);
  o.seed = j.value("seed", o.seed);
  o.workers = j.value("workers", o.workers);
  o.patience = j.value("patience", o.patience);
  o.select = j.value("select", o.select);
  o.threshold = j.value("threshold", o.threshold);
  o.input_size = j.value("input_size", o.input_size);
  o.augment = augment_from(j.value("augment", json()));
  return o;
}

int train(const fs::path& recipe_path, const std::string& data, const fs::path& out) {
  const json recipe = read_json(recipe_path);
  dfscan::train::TrainModelRequest r;
  r.arch = recipe.at("arch").get<std::string>();
  r.arch_config = recipe.value("arch_config", json());
  r.data_spec = data;
  r.output = out.string() + ".fp32";
  r.name = recipe.value("name", out.stem().string());
  r.options = options_from(recipe.at("options"));
  r.options.device = "cpu";  // the shipped models are reproduced bit for bit on the CPU
  r.options.checkpoint_dir = out.string() + ".ckpt";
  r.options.resume = true;  // an interrupted run continues where it stopped, with the same result
  r.options.log_path = out.string() + ".log.jsonl";
  r.options.progress = false;

  const auto start = std::chrono::steady_clock::now();
  const auto result = dfscan::train::train_model(r);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  auto file = dfscan::io::read_model_file(r.output);
  json manifest = file.manifest;
  manifest.erase("hash");
  manifest.merge_patch(recipe.value("manifest_patch", json::object()));
  dfscan::io::WriteOptions write;
  write.float16 = recipe.value("float16", false);
  const auto hash = dfscan::io::write_model_file(out, file.tensors, manifest, write);
  std::cout << json{{"output", out.string()},
                    {"hash", hash},
                    {"bytes", fs::file_size(out)},
                    {"train_seconds", seconds},
                    {"epochs_run", result.train.epochs_run},
                    {"selected_epoch", result.train.best_epoch + 1},
                    {"threshold", manifest.value("threshold", 0.5)},
                    {"validation", result.train.validation},
                    {"history", result.train.history}}
                   .dump(2)
            << "\n";
  return 0;
}

int evaluate(const std::string& model, const std::string& data, const std::string& split_name,
             int resamples) {
  const auto split = dfscan::data::split_from_string(split_name);
  if (!split) throw dfscan::Error(dfscan::Status::error, "unknown split " + split_name);
  auto detector = dfscan::Detector::load(model, c10::Device(c10::kCPU));
  const auto dataset = dfscan::data::open_dataset(data);
  const auto samples = dataset.split(*split);
  if (samples.empty()) throw dfscan::Error(dfscan::Status::error, "no " + split_name + " samples in " + data);
  dfscan::data::SampleReader reader;
  torch::NoGradGuard no_grad;
  std::vector<int> labels;
  std::vector<double> scores;
  for (const auto& s : samples) {  // one at a time: native-size inputs differ in shape
    const auto input = detector.prepare(reader.read(s)).unsqueeze(0);
    const auto p = detector.scores(detector.logits(input));
    labels.push_back(s.label);
    scores.push_back(p[0].item<double>());
  }
  dfscan::eval::EvalOptions options;
  options.threshold = detector.threshold();
  options.bootstrap.resamples = resamples;
  options.bootstrap.seed = 0;
  const auto r = dfscan::eval::evaluate(labels, scores, options);
  // The same document `dfscan eval --format json` prints for a report (dfscan/report.hpp).
  auto report = dfscan::eval::report_json(r);
  // Per-group figures for every extra CSV column (e.g. whether a test video also gave training frames).
  std::set<std::string> keys;
  for (const auto& s : samples)
    for (const auto& g : s.groups) keys.insert(g.first);
  for (const auto& key : keys) {
    std::vector<std::string> groups;
    for (const auto& s : samples) groups.push_back(s.groups.count(key) ? s.groups.at(key) : "");
    report["groups"][key] =
        dfscan::eval::group_reports_json(dfscan::eval::evaluate_by_group(labels, scores, groups, options));
  }
  std::cout << nlohmann::ordered_json{{"model", model},
                                      {"hash", detector.hash()},
                                      {"data", dataset.source()},
                                      {"split", split_name},
                                      {"bootstrap",
                                       {{"resamples", resamples}, {"seed", 0}, {"stratified", true}}},
                                      {"metrics", report}}
                   .dump(2)
            << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  spdlog::set_default_logger(spdlog::stderr_color_mt("default_models_tool"));  // stdout is the JSON report
  try {
    if (args.size() == 4 && args[0] == "train") return train(args[1], args[2], args[3]);
    if ((args.size() == 4 || args.size() == 5) && args[0] == "evaluate")
      return evaluate(args[1], args[2], args[3], args.size() == 5 ? std::stoi(args[4]) : 2000);
  } catch (const std::exception& e) {
    std::cerr << "default_models_tool: " << dfscan::one_line(e.what()) << "\n";
    return 1;
  }
  std::cerr << "usage: default_models_tool train RECIPE.json DATA OUT.safetensors\n"
               "       default_models_tool evaluate MODEL DATA SPLIT [RESAMPLES]\n";
  return 2;
}
