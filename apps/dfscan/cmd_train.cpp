// `dfscan train --arch ARCH --data SPEC -o MODEL.safetensors`: train or fine-tune a detector.
// Every option can also come from DFSCAN_<FLAG> or the [train] table of --config FILE.toml.

#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "checks.hpp"
#include "command.hpp"
#include "config_file.hpp"
#include "dfscan/json_text.hpp"
#include "dfscan/log.hpp"
#include "dfscan/runtime.hpp"
#include "dfscan/status.hpp"
#include "dfscan/train.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

namespace dfscan::cli {
namespace {

struct TrainCliOptions {
  train::TrainModelRequest request;
  std::string arch_config;  // JSON text or a file holding it
  std::string output;
  std::string checkpoint_dir;
  std::string log_path;
  std::string augment = "none";  // none | default | a list (train::parse_augment_spec)
  int jpeg_quality_min = train::AugmentOptions{}.jpeg_quality_min;
  int threads = 0;
  bool no_progress = false;
};

nlohmann::json parse_arch_config(const std::string& text) {
  if (text.empty()) return nullptr;
  try {
    if (!text.empty() && text.front() == '{') return nlohmann::json::parse(text);
    std::ifstream in(text);
    if (!in) throw Error(Status::not_found, "--arch-config: cannot open " + text);
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Status::error, "--arch-config is not valid JSON: " + one_line(e.what()));
  }
}

int run_train(TrainCliOptions& o) {
  auto& r = o.request;
  // Checked here, not by CLI11, because these may also come from the environment or --config.
  if (r.arch.empty() && r.init_model.empty()) {
    std::cerr << "dfscan train: --arch or --init is required\n";
    return kExitUsage;
  }
  if (r.data_spec.empty() || o.output.empty()) {
    std::cerr << "dfscan train: --data and -o/--output are required\n";
    return kExitUsage;
  }
  r.arch_config = parse_arch_config(o.arch_config);
  // Checked now: the model is written after the last epoch, checkpoints after the first.
  check_writable(o.output, /*is_folder=*/false, "-o");
  if (!o.checkpoint_dir.empty()) check_writable(o.checkpoint_dir, /*is_folder=*/true, "--checkpoint-dir");
  r.output = o.output;
  auto& t = r.options;
  t.checkpoint_dir = o.checkpoint_dir.empty() ? std::filesystem::path(o.output + ".ckpt")
                                              : std::filesystem::path(o.checkpoint_dir);
  if (!o.log_path.empty()) t.log_path = o.log_path;
  t.progress = !o.no_progress;
  try {
    t.augment = train::parse_augment_spec(o.augment);
  } catch (const Error& e) {
    std::cerr << "dfscan train: " << e.what() << "\n";
    return kExitUsage;
  }
  t.augment.jpeg_quality_min = o.jpeg_quality_min;
  configure_threads(o.threads);

  const auto result = train::train_model(r);
  const auto& tr = result.train;
  if (tr.rank != 0) return kExitOk;  // distributed: rank 0 reports for the job
  nlohmann::json summary = {{"output", o.output},
                            {"hash", result.hash},
                            {"epochs_run", tr.epochs_run},
                            {"steps", tr.steps},
                            {"selected_epoch", tr.best_epoch + 1},
                            {"threshold", tr.threshold},
                            {"threshold_source", result.manifest.value("threshold_source", "")},
                            {"validation", tr.validation},
                            {"resumed", tr.resumed},
                            {"stopped_early", tr.stopped_early},
                            {"unreadable_samples", tr.unreadable["count"]}};
  std::cout << json_text(summary) << "\n";
  // The model is written, but files failed: exit 2, as a scan with a broken file does.
  const auto unreadable = tr.unreadable["count"].get<std::int64_t>();
  if (unreadable > 0)
    log::warn(std::to_string(unreadable) + " sample(s) could not be read and were left out of training; " +
              "the model's manifest lists them under training.unreadable_samples");
  if (!std::cout.good() || unreadable > 0) return kExitFailure;
  return kExitOk;
}

std::function<int()> add_train(CLI::App& root) {
  auto o = std::make_shared<TrainCliOptions>();
  auto& r = o->request;
  auto& t = r.options;
  auto* sub = root.add_subcommand("train", "Train or fine-tune a detector; writes a .safetensors model file");
  sub->add_option("--arch", r.arch, "Architecture to train (see `dfscan models`)");
  sub->add_option("--arch-config", o->arch_config, "The architecture's config: JSON text or a JSON file");
  sub->add_option("--init", r.init_model, "Fine-tune this model (name or .safetensors path)");
  sub->add_option("--data", r.data_spec,
                  "Dataset: a {train,valid,test}/{real,fake} folder or a CSV path,label,split");
  sub->add_option("-o,--output", o->output, "Model file to write (required)");
  sub->add_option("--name", r.name, "Model name in the manifest (default: the output's stem)");
  sub->add_option("--epochs", t.epochs, "Epochs")->check(kPositive)->capture_default_str();
  sub->add_option("--max-steps", t.max_steps, "Stop after this many optimizer steps (0: no limit)")
      ->check(kNonNegative);
  sub->add_option("--batch", t.batch_size, "Batch size")->check(kPositive)->capture_default_str();
  sub->add_option("--lr", t.lr, "Learning rate")->check(kPositive)->capture_default_str();
  sub->add_option("--optimizer", t.optimizer, "Optimizer")
      ->check(CLI::IsMember({"adam", "adamw", "sgd"}))
      ->capture_default_str();
  sub->add_option("--momentum", t.momentum, "SGD momentum")->capture_default_str();
  sub->add_option("--weight-decay", t.weight_decay, "Weight decay (decoupled for adamw)")
      ->capture_default_str();
  sub->add_option("--schedule", t.schedule, "Learning-rate schedule")
      ->check(CLI::IsMember({"constant", "step", "cosine"}))
      ->capture_default_str();
  sub->add_option("--warmup-steps", t.warmup_steps, "Linear warm-up steps")->check(kNonNegative);
  sub->add_option("--step-epochs", t.step_epochs, "Step schedule: epochs between decays")->check(kPositive);
  sub->add_option("--gamma", t.gamma, "Step schedule: decay factor")->capture_default_str();
  sub->add_option("--clip-grad-norm", t.clip_grad_norm, "Clip the gradients' global L2 norm (0: off)");
  sub->add_option("--balance", t.balance, "Class balancing: weighted sampler or weighted loss")
      ->check(CLI::IsMember({"none", "sampler", "loss"}))
      ->capture_default_str();
  sub->add_option("--seed", t.seed, "Seed of every random choice")->capture_default_str();
  sub->add_option("--device", t.device, "cpu, cuda, cuda:N or auto")->check(kDevice)->capture_default_str();
  sub->add_option("--workers", t.workers, "Sample loading and augmentation threads")
      ->check(kNonNegative)
      ->capture_default_str();
  sub->add_option("--threads", o->threads, "LibTorch intra-op threads (0: every CPU this process may use)")
      ->check(kNonNegative);
  sub->add_option("--precision", t.precision, "fp32, or CUDA autocast bf16 / fp16 (with loss scaling)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}))
      ->capture_default_str();
  sub->add_option("--patience", t.patience, "Early stopping: epochs without validation improvement (0: off)")
      ->check(kNonNegative);
  sub->add_option("--select", t.select, "Validation metric for model selection")
      ->check(CLI::IsMember({"auc", "loss"}))
      ->capture_default_str();
  sub->add_option("--threshold-rule", t.threshold, "How the stored threshold is chosen on validation data")
      ->check(CLI::IsMember({"eer", "balanced-accuracy"}))
      ->capture_default_str();
  sub->add_option("--input-size", t.input_size,
                  "Train and validate at this square input size (0: the model's)")
      ->check(kNonNegative);
  sub->add_option("--augment", o->augment,
                  "Training augmentations: none; default (flip, crop, blur, noise, color, downscale); or a "
                  "list such as default,jpeg or flip,jpeg=0.3,-crop (jpeg: media builds only)")
      ->capture_default_str();
  sub->add_option("--jpeg-quality-min", o->jpeg_quality_min,
                  "JPEG augmentation: lowest quality drawn (up to 95)")
      ->check(CLI::Range(1, 95))
      ->capture_default_str();
  sub->add_option("--checkpoint-dir", o->checkpoint_dir, "Per-epoch checkpoints (default: OUTPUT.ckpt/)");
  sub->add_flag("--resume", t.resume, "Continue from the newest checkpoint in the checkpoint folder");
  sub->add_option("--log", o->log_path, "JSONL metrics log (one line per step and per epoch)");
  sub->add_flag("--no-progress", o->no_progress, "No progress line on stderr");
  // Never parsed here: main turns `train --continual` into `continual` (see `dfscan continual --help`).
  sub->add_flag(
      "--continual",
      "Continual learning over an ordered list of tasks: --tasks tasks.toml, as `dfscan continual`");
  sub->add_option("--distributed", t.distributed,
                  "auto: data-parallel when launched by torchrun, srun or scripts/launch-local.sh "
                  "(--batch is the global batch); on: also as a world of one (tests the backend: Gloo, "
                  "or NCCL on CUDA); off: a single process")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  attach_environment_and_config(*sub, "train");
  return [o] { return run_train(*o); };
}

}  // namespace
DFSCAN_COMMAND("train", add_train);
}  // namespace dfscan::cli
