// `dfscan continual --tasks tasks.toml`: trains an audio spoofing detector on an ordered list of
// attack types with each continual-learning strategy and seed, and reports the EER matrices,
// average EER and forgetting (text tables on stdout, everything as JSON with --json).
// A task named "a+b" holds the attacks a and b together. With --valid-share part of the training
// split (whole recordings and sentences) is held back for validation, and --save-model writes the
// trained detector as an `audio-spoof` model file whose threshold is the validation EER point.
#include "checks.hpp"
#include "dfscan/config.hpp"
#if DFSCAN_WITH_MEDIA

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "command.hpp"
#include "dfscan/atomic_file.hpp"
#include "dfscan/audio.hpp"
#include "dfscan/audio/continual.hpp"
#include "dfscan/checkpoint.hpp"
#include "dfscan/dataset.hpp"
#include "dfscan/json_text.hpp"
#include "dfscan/log.hpp"
#include "dfscan/media.hpp"
#include "dfscan/metrics.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/runtime.hpp"
#include "dfscan/status.hpp"
#include "dfscan/train.hpp"
#include "exit_codes.hpp"
#include "output.hpp"
#include "scan_inputs.hpp"

namespace dfscan::cli {
namespace {

namespace fs = std::filesystem;

struct ContinualArgs {
  std::string tasks_file;
  std::vector<std::string> strategies{"finetune", "ewc", "rawm", "rwm"};
  std::vector<int> seeds{0, 1, 2};
  std::string model = "lcnn";
  std::string features = "lfcc";
  int frames = 200;
  int epochs = 10;
  int batch_size = 32;
  double lr = 0.01;
  std::string optimizer = "sgd";
  std::vector<int> head_hidden;
  bool freeze_backbone = false;
  audio::StrategyConfig strategy;
  std::string device = "cpu";
  std::string json_out;
  double valid_share = 0.0;  // share of training groups held back for validation
  std::string save_model;
  std::string model_name;
  double window_seconds = 2.0;
  double hop_seconds = 1.0;
  bool train_windows = false;    // train/valid examples: every scan window instead of the centre crop
  bool balance_attacks = false;  // train/valid: repeat the fakes of smaller attacks of a joint task
};

// The subset of TOML a task list needs: `manifest = "..."` and `tasks = ["a", "b+c", ...]`, the
// array possibly over several lines, with # comments. Anything else is an error naming its line:
// a line skipped in silence could drop a task from the run.
std::pair<std::string, std::vector<std::string>> read_tasks_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(Status::not_found, "cannot read tasks file " + path.string());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t at = 0, line = 1;
  const auto fail = [&](const std::string& what) -> Error {
    return Error(Status::error, path.string() + ":" + std::to_string(line) + ": " + what);
  };
  // Skips blanks and comments; `lines` also newlines.
  const auto skip = [&](bool lines) {
    while (at < text.size()) {
      const char c = text[at];
      if (c == '#') {
        while (at < text.size() && text[at] != '\n') ++at;
      } else if (c == ' ' || c == '\t' || c == '\r' || (lines && c == '\n')) {
        line += c == '\n';
        ++at;
      } else {
        return;
      }
    }
  };
  const auto string_value = [&] {
    if (at >= text.size() || text[at] != '"') throw fail("expected a \"quoted\" string");
    const auto end = text.find_first_of("\"\n\\", at + 1);
    if (end == std::string::npos || text[end] != '"') throw fail("unterminated or escaped string");
    std::string value = text.substr(at + 1, end - at - 1);
    at = end + 1;
    return value;
  };
  std::string manifest;
  std::vector<std::string> tasks;
  bool have_tasks = false;
  for (skip(true); at < text.size(); skip(true)) {
    const auto key_end = text.find_first_of(" \t=\r\n#", at);
    const std::string key = text.substr(at, key_end - at);
    at = key_end;
    skip(false);
    if (at >= text.size() || text[at] != '=') throw fail("expected key = value");
    ++at;
    skip(false);
    if (key == "manifest") {
      manifest = string_value();
    } else if (key == "tasks") {
      if (at >= text.size() || text[at] != '[') throw fail("tasks must be an array of strings");
      ++at;
      have_tasks = true;
      for (skip(true); at < text.size() && text[at] != ']'; skip(true)) {
        tasks.push_back(string_value());
        skip(true);
        if (at < text.size() && text[at] == ',')
          ++at;
        else if (at < text.size() && text[at] != ']')
          throw fail("expected , or ] in the tasks array");
      }
      if (at >= text.size()) throw fail("the tasks array is not closed");
      ++at;
    } else {
      throw fail("unknown key '" + key + "' (a task list has manifest and tasks)");
    }
    skip(false);
    if (at < text.size() && text[at] != '\n') throw fail("unexpected text after the value");
  }
  if (manifest.empty() || !have_tasks || tasks.empty())
    throw Error(Status::error, "tasks file " + path.string() + " needs manifest = \"...\" and tasks = [...]");
  if (fs::path(manifest).is_relative()) manifest = (path.parent_path() / manifest).string();
  return {manifest, tasks};
}

struct Row {
  std::string path, label, task, split, speaker, source;
};

// The benchmark's manifest.csv, a dataset CSV with a task column (and speaker and source, as
// scripts/build-audio-benchmark.sh writes it).
std::vector<Row> read_manifest(const fs::path& path) {
  std::vector<Row> rows;
  for (const auto& sample : data::read_csv_dataset(path, {"task"})) {
    const auto group = [&](const char* name) {
      const auto it = sample.groups.find(name);
      return it == sample.groups.end() ? std::string() : it->second;
    };
    rows.push_back({sample.path, sample.label ? "fake" : "real", group("task"), data::to_string(sample.split),
                    group("speaker"), group("source")});
  }
  return rows;
}

// Moves a share of the training rows to a "valid" split by group, so that
// validation shares no recording or sentence with training: a fake made from a
// real utterance (same file name) goes with that utterance's speaker, a real
// utterance with its speaker, a synthesised one with its sentence.
void hold_out_validation(std::vector<Row>& rows, double share) {
  if (share <= 0.0) return;
  std::map<std::string, std::string> real_speaker;  // file name -> speaker
  for (const auto& r : rows)
    if (r.label == "real") real_speaker[fs::path(r.path).filename().string()] = r.speaker;
  for (auto& r : rows) {
    if (r.split != "train") continue;
    auto it = real_speaker.find(fs::path(r.path).filename().string());
    const std::string group = it != real_speaker.end() ? "speaker:" + it->second : "source:" + r.source;
    if (static_cast<double>(fnv1a64(group) % 1000) < share * 1000.0) r.split = "valid";
  }
}

// "a+b" -> {a, b}
std::vector<std::string> split_task(const std::string& task) {
  std::vector<std::string> parts;
  std::stringstream ss(task);
  for (std::string p; std::getline(ss, p, '+');) parts.push_back(p);
  return parts;
}

// Center crop or repeat-pad [F, T] to `frames` columns.
torch::Tensor fix_length(const torch::Tensor& f, int frames) {
  const auto t = f.size(1);
  if (t >= frames) return f.slice(1, (t - frames) / 2, (t - frames) / 2 + frames);
  const auto reps = (frames + t - 1) / t;
  return f.repeat({1, reps}).slice(1, 0, frames);
}

audio::FrontEndConfig front_end_for(const std::string& kind) {
  audio::FrontEndConfig c;
  c.kind = audio::parse_feature_kind(kind);
  if (c.kind == audio::FeatureKind::lfcc) c.delta_order = 2;  // ASVspoof LFCC baseline: 20 + deltas
  if (c.kind == audio::FeatureKind::log_mel || c.kind == audio::FeatureKind::mel) c.n_filters = 64;
  if (c.kind == audio::FeatureKind::mfcc) {
    c.n_filters = 40;
    c.delta_order = 2;
  }
  return c;
}

nlohmann::json split_counts(const audio::LabeledSet& set) {
  const auto fake = set.labels.sum().item<int64_t>();
  return {{"n", set.labels.numel()}, {"fake", fake}, {"real", set.labels.numel() - fake}};
}

// Writes the trained detector as an audio-spoof model file. The threshold is
// the validation set's EER point; the test split plays no part in it.
nlohmann::json save_model(const ContinualArgs& args, const audio::ModelConfig& mc,
                          const audio::FrontEndConfig& fe, audio::SpoofModel& model,
                          const std::vector<audio::ContinualTask>& tasks, const audio::LabeledSet& valid,
                          const std::vector<std::string>& task_names, const nlohmann::json& unreadable) {
  const auto device = parse_device(args.device);
  const auto scores_tensor = audio::predict_scores(model, valid, device).to(torch::kDouble).contiguous();
  const std::vector<double> scores(scores_tensor.data_ptr<double>(),
                                   scores_tensor.data_ptr<double>() + scores_tensor.numel());
  const auto labels_tensor = valid.labels.to(torch::kInt).contiguous();
  const std::vector<int> labels(labels_tensor.data_ptr<int>(),
                                labels_tensor.data_ptr<int>() + labels_tensor.numel());
  const auto eer = eval::equal_error_rate(labels, scores);
  if (!eer.threshold.defined())
    throw Error(Status::error, "validation EER undefined: " + eer.threshold.reason);
  const double threshold = *eer.threshold.value;

  nlohmann::json train_counts = nlohmann::json::object();
  int64_t n_train = 0;
  for (const auto& t : tasks) {
    train_counts[t.name] = split_counts(t.train);
    n_train += t.train.labels.numel();
  }
  nlohmann::json manifest;
  manifest["format"] = "dfscan.model/1";
  manifest["arch"] = "audio-spoof";
  manifest["modality"] = "audio";
  manifest["name"] = args.model_name.empty() ? fs::path(args.save_model).stem().string() : args.model_name;
  manifest["config"] = audio::model_config_to_json(mc);
  manifest["input"] = {{"sample_rate", fe.sample_rate},
                       {"window_seconds", args.window_seconds},
                       {"hop_seconds", args.hop_seconds},
                       {"front_end", audio::front_end_to_json(fe)}};
  manifest["score"] = {{"activation", "softmax"}, {"fake_index", 1}};
  manifest["threshold"] = threshold;
  manifest["threshold_source"] = "equal-error-rate point on the validation split";
  manifest["faces"] = nullptr;
  manifest["training"] = {
      {"tool", "dfscan continual"},
      {"tasks", task_names},
      {"strategy", args.strategies[0]},
      {"seed", args.seeds[0]},
      {"epochs", args.epochs},
      {"batch_size", args.batch_size},
      {"lr", args.lr},
      {"optimizer", args.optimizer},
      {"frames", args.frames},
      {"valid_share", args.valid_share},
      {"examples", args.train_windows ? "every scan window of each file" : "centre crop of each file"},
      {"balance_attacks", args.balance_attacks},
      {"splits", {{"train", {{"n", n_train}, {"by_task", train_counts}}}, {"valid", split_counts(valid)}}},
      {"valid_eer", *eer.eer.value},
      {"selection",
       "threshold = EER point on the valid split (whole recordings and sentences held back from "
       "training); test split never used for training or selection"}};
  if (!unreadable.empty()) {
    // As dfscan train's manifests: the count, and the first few files.
    auto first = unreadable;
    if (first.size() > train::kUnreadableListed)
      first.erase(first.begin() + static_cast<std::ptrdiff_t>(train::kUnreadableListed), first.end());
    manifest["training"]["unreadable_samples"] = {{"count", unreadable.size()}, {"files", first}};
  }
  manifest["dfscan_version"] = DFSCAN_VERSION;

  io::StateDict weights;
  for (const auto& item : model.named_parameters(true))
    if (item.value().defined()) weights.insert(item.key(), item.value().detach().to(torch::kCPU));
  for (const auto& item : model.named_buffers(true))
    if (item.value().defined()) weights.insert(item.key(), item.value().detach().to(torch::kCPU));
  const auto hash = io::write_model_file(args.save_model, weights, manifest);
  std::cerr << "saved " << args.save_model << " (" << hash << "), validation EER " << 100.0 * *eer.eer.value
            << " %, threshold " << threshold << "\n";
  return {{"path", args.save_model}, {"hash", hash}, {"threshold", threshold}, {"valid_eer", *eer.eer.value}};
}

int run_continual_command(const ContinualArgs& args) {
  const auto device = parse_device(args.device);
  const auto [manifest, task_names] = read_tasks_file(args.tasks_file);
  if (!args.save_model.empty() && (args.strategies.size() != 1 || args.seeds.size() != 1))
    throw Error(Status::error, "--save-model needs exactly one strategy and one seed");
  if (!args.save_model.empty() && args.valid_share <= 0.0)
    throw Error(Status::error,
                "--save-model needs --valid-share (the threshold is chosen on validation data)");
  // Both are written after every run has trained: checked now.
  if (!args.save_model.empty()) check_writable(args.save_model, /*is_folder=*/false, "--save-model");
  if (!args.json_out.empty()) check_writable(args.json_out, /*is_folder=*/false, "--json");
  auto rows = read_manifest(manifest);
  // A task no row belongs to (a typo in the task list) is named before any audio is decoded.
  for (const auto& task : task_names)
    for (const auto& part : split_task(task))
      if (std::none_of(rows.begin(), rows.end(), [&](const Row& r) { return r.task == part; }))
        throw Error(Status::error, args.tasks_file + ": task '" + part + "' has no rows in " + manifest);
  hold_out_validation(rows, args.valid_share);
  const auto fe = front_end_for(args.features);
  std::cerr << "front end " << audio::feature_kind_name(fe.kind) << ": " << audio::feature_dim(fe)
            << " features x " << args.frames << " frames\n";

  // Features for every file once: one example per file, or with --train-windows one per scan window
  // of each training and validation file (what the scanner will score).
  std::map<std::string, std::vector<torch::Tensor>> features;
  const auto window = std::llround(args.window_seconds * fe.sample_rate);
  const auto hop = std::llround(args.hop_seconds * fe.sample_rate);
  // A file that cannot be decoded is left out and named, so that one bad file in a large corpus
  // costs neither the decoding already done nor the run; the exit code says so at the end.
  nlohmann::json unreadable = nlohmann::json::array();
  for (const auto& row : rows) {
    auto decoded = media::read_audio(row.path);
    if (decoded.status != Status::ok || decoded.pcm.empty()) {
      const auto message = decoded.status == Status::ok ? std::string("no samples") : decoded.message;
      if (unreadable.size() < train::kUnreadableListed)
        log::warn("left out, unreadable: " + row.path + ": " + message);
      unreadable.push_back(
          {{"path", row.path},
           {"status", to_string(decoded.status == Status::ok ? Status::empty : decoded.status)},
           {"error", message}});
      features[row.path];  // no features: its rows are dropped below
      continue;
    }
    auto wave =
        torch::from_blob(decoded.pcm.data(), {static_cast<int64_t>(decoded.pcm.size())}, torch::kFloat)
            .clone();
    if (args.train_windows && (row.split == "train" || row.split == "valid")) {
      for (const auto& [begin, end] : audio::window_spans(wave.size(0), window, hop))
        features[row.path].push_back(
            fix_length(audio::compute_features(wave.slice(0, begin, end).contiguous(), fe), args.frames));
    } else {
      features[row.path].push_back(fix_length(audio::compute_features(wave, fe), args.frames));
    }
  }
  rows.erase(
      std::remove_if(rows.begin(), rows.end(), [&](const Row& r) { return features.at(r.path).empty(); }),
      rows.end());
  auto collect = [&](const std::string& task, const std::string& split) {
    const auto attacks = split_task(task);
    std::vector<torch::Tensor> xs;
    std::vector<int64_t> ys;
    std::map<std::string, std::vector<torch::Tensor>> fakes_by_attack;
    for (const auto& row : rows)
      if (row.split == split &&
          (row.label == "real" || std::find(attacks.begin(), attacks.end(), row.task) != attacks.end())) {
        for (const auto& x : features.at(row.path)) {
          if (row.label == "fake" && args.balance_attacks && split != "test") {
            fakes_by_attack[row.task].push_back(x);
            continue;
          }
          xs.push_back(x);
          ys.push_back(row.label == "fake" ? 1 : 0);
        }
      }
    // --balance-attacks: every attack of a joint task contributes as many fake examples as the
    // largest one (smaller ones are repeated), so a rare attack is not drowned by a common one.
    size_t most = 0;
    for (const auto& [name, list] : fakes_by_attack) most = std::max(most, list.size());
    for (const auto& [name, list] : fakes_by_attack)
      for (size_t i = 0; i < most; ++i) {
        xs.push_back(list[i % list.size()]);
        ys.push_back(1);
      }
    if (xs.empty()) throw Error(Status::error, "no " + split + " data for task " + task);
    return audio::LabeledSet{torch::stack(xs), torch::tensor(ys, torch::kLong)};
  };
  std::vector<audio::ContinualTask> tasks;
  for (const auto& name : task_names) {
    tasks.push_back({name, collect(name, "train"), collect(name, "test")});
    std::cerr << "task " << name << ": " << tasks.back().train.labels.sum().item<int64_t>() << " fake / "
              << tasks.back().train.labels.numel() << " train, "
              << tasks.back().test.labels.sum().item<int64_t>() << " fake / "
              << tasks.back().test.labels.numel() << " test\n";
  }

  audio::ModelConfig mc;
  mc.arch = args.model;
  mc.feature_dim = audio::feature_dim(fe);
  mc.head_hidden = args.head_hidden;
  mc.dropout = args.model == "lcnn" ? 0.7 : 0.0;
  audio::TrainConfig tc;
  tc.epochs = args.epochs;
  tc.batch_size = args.batch_size;
  tc.lr = args.lr;
  tc.optimizer = args.optimizer;
  tc.freeze_backbone_after_first_task = args.freeze_backbone;
  tc.device = device;

  nlohmann::ordered_json out;
  out["schema"] = "dfscan.continual/1";
  out["tasks"] = task_names;
  out["config"] = {{"model", args.model},
                   {"features", audio::feature_kind_name(fe.kind)},
                   {"feature_dim", mc.feature_dim},
                   {"frames", args.frames},
                   {"epochs", args.epochs},
                   {"batch_size", args.batch_size},
                   {"lr", args.lr},
                   {"optimizer", args.optimizer},
                   {"head_hidden", args.head_hidden},
                   {"freeze_backbone_after_first_task", args.freeze_backbone},
                   {"ewc_lambda", args.strategy.ewc_lambda},
                   {"rls_alpha", args.strategy.rls_alpha},
                   {"beta_min", args.strategy.beta_min},
                   {"beta_max", args.strategy.beta_max},
                   {"reference_compat", args.strategy.reference_compat},
                   {"device", args.device}};
  out["runs"] = nlohmann::json::array();
  std::map<std::string, std::vector<std::pair<double, double>>> summary;
  std::shared_ptr<audio::SpoofModel> last_model;
  for (int seed : args.seeds) {
    // The first task trains identically under every strategy (none acts before a task ends), so it
    // is trained once per seed and shared.
    torch::manual_seed(static_cast<uint64_t>(seed));
    auto base = audio::make_model(mc);
    tc.seed = static_cast<uint64_t>(seed);
    auto plain = audio::make_strategy(audio::StrategyConfig{});
    const auto t0 = std::chrono::steady_clock::now();
    const double first_loss = audio::train_task(*base, *plain, 0, tasks[0].train, tc);
    std::cerr << "seed " << seed << ": first task trained in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
    for (const auto& name : args.strategies) {
      auto sc = args.strategy;
      sc.name = name;
      sc.seed = static_cast<uint64_t>(seed);
      sc.batch_size = args.batch_size;
      auto strategy = audio::make_strategy(sc);
      auto model = audio::clone_model(*base);
      auto cfg = tc;
      cfg.pretrained_tasks = 1;
      const auto t1 = std::chrono::steady_clock::now();
      auto result = audio::run_continual(*model, *strategy, tasks, cfg);
      result.train_loss[0] = first_loss;
      std::cout << audio::format_table(result) << "("
                << std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count() << " s)\n\n"
                << std::flush;
      out["runs"].push_back(nlohmann::ordered_json::parse(audio::to_json(result)));
      summary[name].push_back({result.average_eer, result.forgetting});
      last_model = model;
    }
  }
  nlohmann::ordered_json sum;
  std::cout << "strategy     avg EER % (mean ± sd)   forgetting points (mean ± sd)   over "
            << args.seeds.size() << " seeds\n";
  for (const auto& name : args.strategies) {
    const auto& v = summary[name];
    auto stats = [&](bool second) {
      double m = 0, s = 0;
      for (auto& p : v) m += second ? p.second : p.first;
      m /= static_cast<double>(v.size());
      for (auto& p : v) s += std::pow((second ? p.second : p.first) - m, 2);
      s = v.size() > 1 ? std::sqrt(s / static_cast<double>(v.size() - 1)) : 0.0;
      return std::make_pair(m, s);
    };
    const auto [am, as] = stats(false);
    const auto [fm, fs] = stats(true);
    sum[name] = {
        {"average_eer_mean", am}, {"average_eer_sd", as}, {"forgetting_mean", fm}, {"forgetting_sd", fs}};
    std::printf("%-12s %8.2f ± %-8.2f          %8.2f ± %-8.2f\n", name.c_str(), 100 * am, 100 * as, 100 * fm,
                100 * fs);
  }
  out["summary"] = sum;
  if (!args.save_model.empty()) {
    auto all_attacks = task_names[0];
    for (size_t i = 1; i < task_names.size(); ++i) all_attacks += "+" + task_names[i];
    const auto valid = collect(all_attacks, "valid");
    out["saved_model"] = save_model(args, mc, fe, *last_model, tasks, valid, task_names, unreadable);
  }
  out["unreadable_files"] = {{"count", unreadable.size()}, {"files", unreadable}};
  if (!args.json_out.empty()) write_file_atomic(args.json_out, json_text(out, 2) + "\n");
  if (!unreadable.empty()) {
    log::warn(std::to_string(unreadable.size()) + " file(s) could not be decoded and were left out" +
              (args.json_out.empty() ? std::string() : "; " + args.json_out + " lists them"));
    return kExitFailure;
  }
  return kExitOk;
}

std::function<int()> make_continual(CLI::App& root) {
  auto args = std::make_shared<ContinualArgs>();
  auto* sub =
      root.add_subcommand("continual", "Continual training of an audio spoofing detector over attack types");
  sub->add_option("--tasks", args->tasks_file,
                  "tasks.toml: manifest = \"...\", tasks = [...] (see scripts/build-audio-benchmark.sh)")
      ->required();
  sub->add_option("--strategies", args->strategies, "Continual-learning strategies to compare")
      ->delimiter(',')
      ->check(CLI::IsMember({"finetune", "ewc", "lwf", "replay", "owm", "rawm", "rwm"}));
  sub->add_option("--seeds", args->seeds, "Seeds; every strategy runs once per seed")->delimiter(',');
  sub->add_option("--model", args->model, "Audio network")
      ->check(CLI::IsMember({"lcnn", "resnet", "stats-mlp"}));
  sub->add_option("--features", args->features, "Front end")
      ->check(CLI::IsMember({"lfcc", "mfcc", "log-mel", "mel", "log-spectrogram", "spectrogram"}));
  sub->add_option("--frames", args->frames, "Frames per input (centre crop, or repeat padding)")
      ->check(kPositive);
  sub->add_option("--epochs", args->epochs, "Epochs per task")->check(kPositive);
  sub->add_option("--batch-size", args->batch_size, "Minibatch size")->check(kPositive);
  sub->add_option("--lr", args->lr, "Learning rate")->check(kPositive);
  sub->add_option("--optimizer", args->optimizer, "sgd (momentum 0.9) or adam")
      ->check(CLI::IsMember({"sgd", "adam"}));
  sub->add_option("--head-hidden", args->head_hidden, "Hidden widths of the classifier head")->delimiter(',');
  sub->add_flag("--freeze-backbone", args->freeze_backbone, "Train only the head after the first task");
  sub->add_option("--ewc-lambda", args->strategy.ewc_lambda, "EWC penalty weight");
  sub->add_option("--lwf-lambda", args->strategy.lwf_lambda, "LwF distillation weight");
  sub->add_option("--replay-capacity", args->strategy.replay_capacity, "Replay buffer size")
      ->check(kNonNegative);
  sub->add_option("--rls-alpha", args->strategy.rls_alpha, "OWM/RAWM/RWM: RLS regulariser");
  sub->add_option("--beta-min", args->strategy.beta_min, "RAWM/RWM: beta clamp, low");
  sub->add_option("--beta-max", args->strategy.beta_max, "RAWM/RWM: beta clamp, high");
  sub->add_flag("--reference-compat", args->strategy.reference_compat,
                "RAWM/RWM/OWM: the published code's update");
  sub->add_option("--device", args->device, "cpu, cuda, cuda:N or auto")->check(kDevice);
  sub->add_option("--json", args->json_out, "Write every run and the summary as JSON");
  sub->add_option("--valid-share", args->valid_share,
                  "Hold back this share of the training recordings and sentences for validation")
      ->check(CLI::Range(0.0, 0.9));
  sub->add_option("--save-model", args->save_model,
                  "Write the trained detector (one strategy, one seed) as an audio-spoof model file");
  sub->add_option("--model-name", args->model_name,
                  "Name in the saved model's manifest (default: file stem)");
  sub->add_option("--window-seconds", args->window_seconds, "Saved model: scan window length")
      ->check(kPositive);
  sub->add_option("--hop-seconds", args->hop_seconds, "Saved model: scan window hop")->check(kPositive);
  sub->add_flag("--train-windows", args->train_windows,
                "Train and validate on every scan window of each file (--window-seconds, --hop-seconds) "
                "instead of its centre crop; test sets keep one crop per file");
  sub->add_flag(
      "--balance-attacks", args->balance_attacks,
      "Train/valid: repeat the fakes of the smaller attacks of a joint task (a+b) up to the largest");
  return [args]() {
    try {
      return run_continual_command(*args);
    } catch (const Error& e) {
      std::cerr << "dfscan continual: " << e.what() << "\n";
      return static_cast<int>(kExitFailure);
    } catch (const c10::Error& e) {
      std::cerr << "dfscan continual: " << one_line(e.what()) << "\n";
      return static_cast<int>(kExitFailure);
    }
  };
}

}  // namespace

DFSCAN_COMMAND("continual", make_continual);

}  // namespace dfscan::cli

#endif  // DFSCAN_WITH_MEDIA
