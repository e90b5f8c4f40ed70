#pragma once
// Face-crop cache (`dfscan data extract-faces`): samples frames, detects, tracks and crops the faces
// of every file in a dataset once, and stores the crops as uint8 tensor shards that train without
// OpenCV or FFmpeg (the GPU box's media-free build).
//
// Layout of a cache folder:
//   shards/shard-NNNNNN.pth  {"images": uint8 [N,S,S,3] RGB}, torch.load-able (zip + pickle)
//   journal.jsonl            one line per finished source file: its size, mtime, the extraction
//                            settings' hash, its status and where its crops are
//   index.csv                path=shards/shard-NNNNNN.pth#ROW,label,split,<groups>,source,track,frame:
//                            a CSV dataset, so `dfscan train --data CACHE/index.csv` works directly
//   files.csv                one row per source file with its status (ok, no_face, decode_error...),
//                            so files without a face are listed, not silently dropped
//   cache.json               the settings and the last run's summary
// Shards are written atomically before the journal lines that name them, and the journal is
// appended and flushed as work finishes, so a killed run resumes where it stopped. A journal entry
// is redone when its source's size or modification time changed, when the settings differ, or
// when its shard is missing. index.csv, files.csv and cache.json are rewritten atomically at the
// end of each run; shards no entry uses any more are deleted then.
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace dfscan::data {

struct FaceCacheOptions {
  std::string data_spec;         // a folder or CSV dataset (open_dataset)
  std::filesystem::path output;  // the cache folder
  // A model's manifest (io::read_model_file): its "faces" setup and input size are the defaults
  // below the explicit options. Null: the built-in defaults. `model` names it for cache.json.
  nlohmann::json model_manifest;
  std::string model;
  int frames = 0;        // > 0: sampled frames per video (else the model's, else 16)
  int size = 0;          // > 0: crop side in pixels (else the model's, else 224)
  double margin = -1.0;  // >= 0: face margin (else the model's, else 0.3)
  std::string detector;  // non-empty: face detector name (else the model's, else default)
  int workers = 0;       // files extracted in parallel; <= 0: the hardware's threads
  int shard_rows = 512;  // crops per shard (a shard may hold a few more, never split a file)
  std::function<void(const std::string&)> progress;  // called with a one-line note per finished file
};

struct FaceCacheSummary {
  size_t files = 0;                        // source files in the dataset
  size_t extracted = 0;                    // processed in this run (new, stale or earlier errors)
  size_t reused = 0;                       // up to date from an earlier run
  size_t stale = 0;                        // of `extracted`: had an entry that no longer matched
  size_t ok = 0, no_face = 0, failed = 0;  // statuses over all files after the run
  size_t crops = 0;                        // rows in index.csv
  size_t shards_written = 0, shards_removed = 0;
  std::string settings;  // the settings as JSON text
  std::filesystem::path index;
};

// Builds or brings up to date the cache. Per-file problems are recorded with their status; throws
// dfscan::Error for dataset, model, detector or write errors, and with Status::unsupported in
// builds without the media layer.
FaceCacheSummary extract_faces(const FaceCacheOptions& options);

}  // namespace dfscan::data
