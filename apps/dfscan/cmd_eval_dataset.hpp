#pragma once
// `dfscan eval --dataset NAME --root DIR`: scores every sample of a dataset through the scan
// pipeline and returns the per-file scores. Torch stays inside cmd_eval_dataset.cpp.
#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dfscan/metrics.hpp"

namespace dfscan::cli {

struct DatasetEvalArgs {
  std::string dataset;  // a name from data::benchmark_names(): folder, csv, ffpp, dfdc, ...
  std::string root;
  std::string split;  // empty: every split
  std::string compression = "c23";
  std::vector<std::string> methods;
  std::string version;
  bool allow_missing = false;  // drop (and report) files the manifest names but the disk lacks
  std::vector<std::string> models;
  std::string device = "auto";
  int frames = 0;
  std::string faces = "auto";
  std::string aggregate = "mean";
  int batch = 32;
  int workers = 1;
  std::string shard;  // "I/N" or empty
  bool progress = false;
};

struct DatasetScores {
  eval::ScoreTable table;         // scored rows and unscored files, with the dataset's group columns
  nlohmann::ordered_json config;  // what was run: dataset, split, shard, models, layout check
};

// Throws dfscan::Error for a dataset that cannot be opened or a model that cannot be loaded; a file
// that cannot be scored becomes an unscored row with its status. Stops early when *cancel is set.
DatasetScores score_dataset(const DatasetEvalArgs& args, const std::atomic<bool>* cancel);

}  // namespace dfscan::cli
