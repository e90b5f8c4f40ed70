// Scoring a dataset for `dfscan eval --dataset`: media files go through the scan pipeline (Scanner),
// pre-cut face crops (a face-crop cache's SHARD.pth#ROW rows, archive members) go straight to the
// detectors, since they are already the crops the scanner would cut. This file includes torch: no
// spdlog here (see dfscan/log.hpp).
#include "cmd_eval_dataset.hpp"

#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "dfscan/benchmarks.hpp"
#include "dfscan/config.hpp"
#include "dfscan/dataset.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/log.hpp"
#include "dfscan/runtime.hpp"
#include "dfscan/status.hpp"
#include "progress.hpp"
#include "scan_inputs.hpp"
#if DFSCAN_WITH_MEDIA
#include "dfscan/scan.hpp"
#endif

namespace dfscan::cli {
namespace {
namespace fs = std::filesystem;

// The shard key of a sample: its path relative to the dataset root when it lies under it
// (CONVENTIONS.md "--shard"), else the path as given; stable across machines with other mounts.
std::string shard_key(const std::string& path, const fs::path& root) {
  const fs::path base = fs::is_regular_file(root) ? root.parent_path() : root;
  const auto rel = fs::path(path).lexically_relative(base);
  if (!rel.empty() && *rel.begin() != "..") return rel.generic_string();
  return path;
}

// A face crop that is not a media file: a face-crop cache row (SHARD.pth#ROW) or a member of a
// WildDeepfake archive (ARCHIVE.tar.gz#MEMBER).
bool is_precut_crop(const std::string& path) {
  const auto hash = path.rfind('#');
  if (hash == std::string::npos) return false;
  auto ends_with = [&](const char* suffix) {
    const std::string s(suffix);
    return hash >= s.size() && path.compare(hash - s.size(), s.size(), s) == 0;
  };
  return ends_with(".pth") || ends_with(".tar.gz") || ends_with(".tgz");
}

struct Row {
  std::string status = "ok", error, modality;
  double score = 0, threshold = 0;
  std::vector<double> frames;
};

// Pre-cut crops: every face model scores the crop, whole-image models score it as the image; the
// sample takes the verdict of its most confident detector, the scanner's per-file rule.
class CropScorer {
 public:
  CropScorer(const std::vector<std::string>& models, const std::string& device) {
    auto names = models.empty() ? default_model_names_installed() : models;
    for (const auto& n : names) {
      auto d = Detector::load(n, parse_device(device));
      d.configure({{"vae_sampling", "mean"}, {"seed", 0}});
      if (d.modality() == "audio") continue;
      detectors_.push_back(std::move(d));
    }
    if (detectors_.empty()) throw Error(Status::not_found, "no image or face model to score the crops with");
  }

  Row score(const data::SampleReader& reader, const data::Sample& sample) const {
    Row row;
    row.modality = "image";
    at::Tensor rgb;
    try {
      rgb = reader.read(sample);
    } catch (const Error& e) {
      row.status = to_string(e.status());
      row.error = e.what();
      return row;
    }
    torch::NoGradGuard no_grad;
    bool first = true;
    try {
      for (const auto& d : detectors_) {
        const auto scores = d.scores(d.logits(d.prepare(rgb).unsqueeze(0)));
        const double s = scores[0].item<double>();
        if (first || s - d.threshold() > row.score - row.threshold) {
          row.score = s;
          row.threshold = d.threshold();
          first = false;
        }
      }
    } catch (const Error& e) {  // this sample's failure, not the run's (a non-finite output)
      Row failed;
      failed.modality = row.modality;
      failed.status = to_string(e.status());
      failed.error = e.what();
      return failed;
    }
    row.frames = {row.score};
    return row;
  }

  nlohmann::json describe() const {
    auto out = nlohmann::json::array();
    for (const auto& d : detectors_) out.push_back(d.identity());
    return out;
  }

 private:
  static std::vector<std::string> default_model_names_installed() {
    std::vector<std::string> out;
    for (const char* n : {"genconvit-ed-atto", "npr-proxy"}) {
      try {
        resolve_model(n);
        out.emplace_back(n);
      } catch (const Error&) {
      }
    }
    return out;
  }
  std::vector<Detector> detectors_;
};

#if DFSCAN_WITH_MEDIA
Row row_from_record(const nlohmann::json& r) {
  Row row;
  row.status = r.value("status", "error");
  if (r.contains("error") && r["error"].is_string()) row.error = r["error"].get<std::string>();
  if (r.contains("modality") && r["modality"].is_string()) row.modality = r["modality"].get<std::string>();
  if (row.status == "ok" && !r["score"].is_number()) {
    row.status = "error";
    row.error = "the scan gave no score";
  }
  if (row.status != "ok") return row;
  row.score = r["score"].get<double>();
  row.threshold = r["threshold"].get<double>();
  // Frame-level samples: each face crop's score (the mean over face models, as in the record).
  for (const auto& track : r["tracks"])
    for (const auto& f : track["frames"])
      if (f["score"].is_number()) row.frames.push_back(f["score"].get<double>());
  return row;
}
#endif

}  // namespace

DatasetScores score_dataset(const DatasetEvalArgs& a, const std::atomic<bool>* cancel) {
  data::BenchmarkOptions bo;
  if (!a.split.empty()) {
    bo.split = data::split_from_string(a.split);
    if (!bo.split) throw Error(Status::error, "unknown split '" + a.split + "' (train, valid, test)");
  }
  bo.compression = a.compression;
  bo.methods = a.methods;
  bo.version = a.version;
  bo.require_files = !a.allow_missing;
  auto bench = data::open_benchmark(a.dataset, a.root, bo);
  std::vector<data::Sample> samples;
  for (const auto& s : bench.dataset)
    if (!bo.split || s.split == *bo.split) samples.push_back(s);
  if (samples.empty())
    throw Error(Status::empty, "dataset '" + a.dataset + "' at " + a.root + " has no samples" +
                                   (a.split.empty() ? "" : " in split " + a.split));

  // Group columns from the whole dataset, before sharding, so that every shard writes the same header.
  std::set<std::string> group_names;
  for (const auto& s : samples)
    for (const auto& [k, v] : s.groups) group_names.insert(k);

  std::size_t total = samples.size();
  if (!a.shard.empty()) {
    std::pair<std::uint64_t, std::uint64_t> shard;
    try {
      shard = parse_shard(a.shard);
    } catch (const std::exception&) {
      throw Error(Status::error, "--shard: expected I/N with 0 <= I < N");
    }
    std::vector<data::Sample> mine;
    for (auto& s : samples)
      if (fnv1a64(shard_key(s.path, a.root)) % shard.second == shard.first) mine.push_back(std::move(s));
    samples = std::move(mine);
  }

  DatasetScores out;
  auto& table = out.table;
  table.extra_columns.assign(group_names.begin(), group_names.end());
  table.has_status = table.has_frame_scores = true;

  std::vector<std::size_t> media, crops;
  for (std::size_t i = 0; i < samples.size(); ++i)
    (is_precut_crop(samples[i].path) ? crops : media).push_back(i);
  std::vector<Row> rows(samples.size());
  ProgressLine progress(samples.size(), a.progress || ::isatty(STDERR_FILENO));
  std::size_t done = 0;
  auto tick = [&](const std::string& path) { progress.update(++done, path); };
  nlohmann::json models = nlohmann::json::array();

  if (!media.empty()) {
#if DFSCAN_WITH_MEDIA
    ScanOptions so;
    so.models = a.models;
    so.device = a.device;
    so.frames = a.frames;
    so.faces = a.faces;
    so.aggregate = a.aggregate;
    so.batch = a.batch;
    so.workers = a.workers;
    Scanner scanner(so);
    models = scanner.describe_models();
    std::vector<std::string> paths;
    for (auto i : media) paths.push_back(samples[i].path);
    scanner.scan(
        paths,
        [&](std::size_t k, const nlohmann::json& r) {
          rows[media[k]] = row_from_record(r);
          tick(samples[media[k]].path);
        },
        cancel);
#else
    for (auto i : media) {
      rows[i].status = "unsupported";
      rows[i].error = "this build has no media support (DFSCAN_WITH_MEDIA off)";
    }
#endif
  }
  if (!crops.empty()) {
    CropScorer scorer(a.models, a.device);
    if (models.empty()) models = scorer.describe();
    data::SampleReader reader;
    for (auto i : crops) {
      if (cancel && *cancel) break;
      rows[i] = scorer.score(reader, samples[i]);
      tick(samples[i].path);
    }
  }
  progress.clear();

  std::map<std::string, std::size_t> statuses;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    const auto& r = rows[i];
    std::vector<std::string> extras;
    for (const auto& g : table.extra_columns) {
      auto it = s.groups.find(g);
      extras.push_back(it == s.groups.end() ? "" : it->second);
    }
    ++statuses[r.status];
    if (r.status != "ok") {
      table.unscored.push_back({s.path, s.label, r.status, r.error, std::move(extras)});
      continue;
    }
    table.paths.push_back(s.path);
    table.labels.push_back(s.label);
    table.scores.push_back(r.score);
    table.extra_values.push_back(std::move(extras));
    table.modalities.push_back(r.modality);
    table.thresholds.push_back(r.threshold);
    table.frame_scores.push_back(r.frames);
  }
  eval::sort_by_path(table);
  // Names the run on every row, so `eval merge` refuses shards scored by other models or with
  // other settings: models by content hash, and the options that change scores (not the device).
  std::string scored_by;
  for (const auto& m : models)
    scored_by += (scored_by.empty() ? "" : " + ") + m.value("name", "") + "@" + m.value("hash", "");
  table.scored_by = scored_by + "; frames=" + (a.frames > 0 ? std::to_string(a.frames) : "model") +
                    "; faces=" + a.faces + "; aggregate=" + a.aggregate;

  auto& c = out.config;
  c["dataset"] = a.dataset;
  c["root"] = a.root;
  c["split"] = a.split.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(a.split);
  if (a.dataset == "ffpp") c["compression"] = a.compression;
  if (!a.methods.empty()) c["methods"] = a.methods;
  if (!a.version.empty()) c["version"] = a.version;
  c["layout"] = bench.layout.summary();
  c["samples_in_dataset"] = total;
  c["shard"] = a.shard.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(a.shard);
  c["samples_in_run"] = samples.size();
  c["models"] = models;
  c["frames"] = a.frames > 0 ? nlohmann::ordered_json(a.frames) : nlohmann::ordered_json("model default");
  c["faces"] = a.faces;
  c["aggregate"] = a.aggregate;
  c["device"] = a.device;
  c["precut_crops"] = crops.size();
  c["media_files"] = media.size();
  return out;
}

}  // namespace dfscan::cli
