// `dfscan data extract-faces --data SPEC -o CACHE_DIR`: detect, track and crop the faces of a dataset
// once, into uint8 tensor shards and a CSV index that `dfscan train --data CACHE_DIR/index.csv` reads.
// Resumable (re-run the same command) and stale-aware; see include/dfscan/face_cache.hpp.

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "checks.hpp"
#include "data_command.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/face_cache.hpp"
#include "dfscan/json_text.hpp"
#include "dfscan/model_file.hpp"
#include "exit_codes.hpp"

namespace dfscan::cli {
namespace {

struct ExtractFacesCliOptions {
  data::FaceCacheOptions cache;
  std::string output;
  bool no_progress = false;
};

int run_extract_faces(ExtractFacesCliOptions& o) {
  auto& c = o.cache;
  c.output = o.output;
  if (!c.model.empty()) {
    io::ReadOptions read;
    read.verify_hash = false;  // only the manifest is needed
    c.model_manifest = io::read_model_file(resolve_model(c.model), read).manifest;
  }
  const bool tty = !o.no_progress && ::isatty(STDERR_FILENO);
  if (tty) c.progress = [](const std::string& note) { std::fprintf(stderr, "\r\033[K%s", note.c_str()); };
  const auto s = data::extract_faces(c);
  if (tty) std::fputs("\r\033[K", stderr);
  const nlohmann::json summary = {{"index", s.index.string()},
                                  {"files", s.files},
                                  {"ok", s.ok},
                                  {"no_face", s.no_face},
                                  {"failed", s.failed},
                                  {"crops", s.crops},
                                  {"extracted", s.extracted},
                                  {"reused", s.reused},
                                  {"stale", s.stale},
                                  {"shards_written", s.shards_written},
                                  {"shards_removed", s.shards_removed},
                                  {"settings", nlohmann::json::parse(s.settings)}};
  std::cout << json_text(summary) << "\n";
  if (!std::cout.good()) return kExitFailure;
  // Files without a face are a result, not a failure (CONVENTIONS.md); unreadable ones are failures.
  return s.failed > 0 ? kExitFailure : kExitOk;
}

std::function<int()> add_extract_faces(CLI::App& data) {
  auto o = std::make_shared<ExtractFacesCliOptions>();
  auto& c = o->cache;
  auto* sub = data.add_subcommand(
      "extract-faces", "Crop the faces of a dataset once into tensor shards + index.csv (resumable)");
  sub->add_option("--data", c.data_spec, "Dataset: a {train,valid,test}/{real,fake} folder or a CSV")
      ->required();
  sub->add_option("-o,--output", o->output, "Cache folder (created; re-running resumes and updates it)")
      ->required();
  sub->add_option("--model", c.model, "Take the face setup and input size from this model's manifest");
  sub->add_option("--frames", c.frames, "Sampled frames per video (default: the model's, else 16)")
      ->check(kPositive);
  sub->add_option("--size", c.size, "Crop side in pixels (default: the model's input size, else 224)")
      ->check(CLI::Range(8, 4096));
  sub->add_option("--face-margin", c.margin, "Margin per side, a fraction of the box (default: the model's)")
      ->check(CLI::Range(0.0, 4.0));
  sub->add_option("--face-detector", c.detector, "Face detector (default: the model's, else the default)");
  sub->add_option("--workers", c.workers, "Files extracted in parallel (0: one per usable CPU)")
      ->check(kNonNegative);
  sub->add_option("--shard-rows", c.shard_rows, "Crops per shard file")
      ->check(kPositive)
      ->capture_default_str();
  sub->add_flag("--no-progress", o->no_progress, "No progress line on stderr");
  return [o] { return run_extract_faces(*o); };
}

}  // namespace
DFSCAN_DATA_COMMAND("extract-faces", add_extract_faces);
}  // namespace dfscan::cli
