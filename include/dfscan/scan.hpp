#pragma once
// The main path (ARCHITECTURE.md): probe -> sample -> faces -> batches -> detectors -> verdict.
// One Scanner loads its models once and scans any number of files; every file gets exactly one
// schema-v1 record (CONVENTIONS.md), whatever is wrong with it.
#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dfscan {

struct ScanOptions {
  std::vector<std::string> models;  // names or paths; empty: the shipped defaults
  std::string device = "auto";
  int frames = 0;                     // sampled frames per video; 0: from the model manifest
  double face_margin = -1.0;          // < 0: from the model manifest
  std::string faces = "auto";         // "auto" or "none" (whole images go to every detector)
  std::string face_detector;          // empty: from the model manifest
  std::optional<double> threshold;    // overrides every model's manifest threshold
  std::string aggregate = "mean";     // "mean", "max" or "genconvit-ref"
  std::string vae_sampling = "mean";  // "mean" or "reference"
  int batch = 32;                     // crops per forward pass
  int workers = 1;                    // files decoded ahead of inference in parallel
  double segment_seconds = 2.0;       // timeline resolution
  double deadline_seconds = 120.0;    // per-file decode budget
  std::int64_t max_pixels = 100'000'000;
};

// The shipped default model names, in the order they are tried.
std::vector<std::string> default_model_names();

class Scanner {
 public:
  // Loads every model once. Throws dfscan::Error when a model cannot be loaded.
  explicit Scanner(ScanOptions options);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Scans `paths` and calls `on_record(index, record)` in input order. Never throws for a
  // per-file problem; stops early when `cancel` becomes true.
  void scan(const std::vector<std::string>& paths,
            const std::function<void(std::size_t, const nlohmann::json&)>& on_record,
            const std::atomic<bool>* cancel = nullptr);
  nlohmann::json scan_one(const std::string& path);

  // Name, arch, modality ("face", "image" or "audio") and hash of each loaded detector.
  nlohmann::json describe_models() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A record for a file that could not be scanned before it reached the pipeline.
nlohmann::json failure_record(const std::string& path, const std::string& status, const std::string& message);

}  // namespace dfscan
