#pragma once
// Public benchmarks as Datasets. Each adapter reads its benchmark's own manifests (split JSONs,
// test lists, metadata.json, protocols), converts the label convention once (1 = fake, 0 = real;
// bona fide = real, spoof = fake), and compares the manifest with the files on disk.
//
// Names (benchmark_names()):
//   folder, csv        read_folder_dataset / read_csv_dataset (the root is the folder or CSV file)
//   ffpp               FaceForensics++: original + Deepfakes, Face2Face, FaceSwap, NeuralTextures,
//                      FaceShifter, DeepFakeDetection; raw (= c0) / c23 / c40; official split JSONs
//   dfdc               DFDC train parts (metadata.json), test/labels.csv (1 = fake), or the preview's
//                      dataset.json (also reachable as "dfdcp")
//   celebdf            Celeb-DF v1/v2, List_of_testing_videos.txt (1 = REAL there)
//   wilddeepfake       {real,fake}_{train,test}/N.tar.gz face sequences, read in place, or extracted
//   deepfaketimit      lower_quality/higher_quality fakes, VidTIMIT as the real half
//   asvspoof2019la     ASVspoof 2019 LA CM protocols
//   asvspoof2021       ASVspoof 2021 LA or DF keys (trial_metadata.txt)
//   inthewild          In-the-Wild meta.csv (label bona-fide / spoof)
//
// Groups set on every sample: source=<benchmark>, plus what the benchmark defines (method,
// compression, attack, speaker, ...). WildDeepfake and VidTIMIT frame folders yield one sample per
// frame with group sequence=<id>: aggregate over it for sequence-level metrics, do not break down by it.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "dfscan/dataset.hpp"

namespace dfscan::data {

struct BenchmarkOptions {
  // Only this split; nullopt = every split the benchmark defines.
  std::optional<Split> split;
  // FF++: raw (alias c0), c23 or c40.
  std::string compression = "c23";
  // FF++ manipulation methods; empty = the methods present under manipulated_sequences/
  // (DeepFakeDetection only when named), or the four classic ones when none is present.
  std::vector<std::string> methods;
  // celebdf: v1 | v2 (default v2). asvspoof2021: LA | DF (default: the only track whose keys exist).
  // deepfaketimit: lq | hq (default both). dfdc: preview selects dataset.json.
  std::string version;
  // asvspoof2021: the trial subset, eval (default) | progress | hidden | all.
  std::string subset;
  // Where the adapter's manifest lives when it is not under the root: FF++ a folder with
  // train/val/test.json; celebdf the test list; dfdc a metadata.json, labels.csv or dataset.json;
  // asvspoof2019la a protocol file or folder; asvspoof2021 trial_metadata.txt; inthewild meta.csv.
  std::filesystem::path manifest;
  // deepfaketimit: the VidTIMIT folder (default ROOT/VidTIMIT, then ROOT/../VidTIMIT).
  std::filesystem::path real_root;
  // true: any file the manifest names but the disk lacks is an error (Status::not_found).
  // false: such samples are dropped, unless keep_missing, and only reported in the LayoutReport.
  bool require_files = true;
  // With require_files = false: keep samples whose file is missing (list a manifest without media).
  bool keep_missing = false;
};

struct LayoutReport {
  size_t expected = 0;  // files the manifest names (after the split/method filters)
  size_t found = 0;     // of those, present on disk
  size_t missing_count = 0;
  std::vector<std::string> missing_examples;  // first few, relative to the root
  size_t extra_count = 0;                     // on disk where the layout expects media, unnamed
  std::vector<std::string> extra_examples;
  // "518 expected, 510 found, 8 missing (Celeb-real/id0_0000.mp4, ...), 0 extra" on one line.
  std::string summary() const;
};

struct BenchmarkDataset {
  Dataset dataset;
  LayoutReport layout;
};

// Every name open_benchmark accepts, in a stable order.
std::vector<std::string> benchmark_names();

// Throws dfscan::Error (one line): unknown name (Status::unsupported), missing root or manifest
// (Status::not_found), a malformed manifest or unknown label (Status::error, naming file and line),
// or missing files under require_files (Status::not_found, with the count and first paths).
BenchmarkDataset open_benchmark(const std::string& name, const std::filesystem::path& root,
                                const BenchmarkOptions& options = {});

// Sample paths of the form "ARCHIVE.tar.gz#MEMBER" (WildDeepfake read in place) name one member of a
// gzip-compressed tar archive.
bool is_archive_member(const std::string& path);
// The member's bytes. Throws dfscan::Error (Status::not_found when the archive or member is absent).
std::string read_archive_member(const std::string& path);

}  // namespace dfscan::data
