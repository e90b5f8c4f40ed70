#pragma once
// Datasets for training and evaluation: an ordered list of labelled samples. Every adapter converts
// its dataset's label convention here, once: label 1 = fake, 0 = real (CONVENTIONS.md).
//
// A sample's path is a media file, or "SHARD.pth#ROW": row ROW of the uint8 tensor "images"
// [N,H,W,3] (RGB) in a .pth shard. Shards are how a face-crop cache plugs in, and they need neither
// OpenCV nor FFmpeg, so training works in the GPU box's media-free build.
#include <ATen/Tensor.h>

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dfscan::data {

enum class Split { train, valid, test };
const char* to_string(Split split);
// "train", "valid" (also "val", "validation", "dev"), "test"; nullopt otherwise.
std::optional<Split> split_from_string(std::string_view name);

struct Sample {
  std::string path;
  int label = 0;  // 1 = fake, 0 = real
  Split split = Split::train;
  std::map<std::string, std::string> groups;  // attributes for per-group metrics, e.g. method=Deepfakes
};

class Dataset {
 public:
  Dataset() = default;
  // `source` names where the samples came from ("folder:/data/x"), for provenance.
  Dataset(std::string source, std::vector<Sample> samples);

  const std::string& source() const { return source_; }
  const std::vector<Sample>& samples() const { return samples_; }
  size_t size() const { return samples_.size(); }
  bool empty() const { return samples_.empty(); }
  std::vector<Sample>::const_iterator begin() const { return samples_.begin(); }
  std::vector<Sample>::const_iterator end() const { return samples_.end(); }

  // The samples of one split, in dataset order.
  std::vector<Sample> split(Split which) const;
  // {"train": {"n": .., "fake": .., "real": ..}, ...} as a one-line summary, e.g. for provenance.
  std::string summary() const;

 private:
  std::string source_;
  std::vector<Sample> samples_;
};

// ROOT/{train,valid,test}/{real,fake}/* (files, recursively), sorted by path relative to the split
// folder, split by split. "val" and "validation" also name the validation folder. Missing splits
// are allowed; a root with none of them is an error.
Dataset read_folder_dataset(const std::filesystem::path& root);

// A CSV file with a header naming at least path,label,split; any further columns are groups.
// label: 1/0, fake/real (case-insensitive). Relative paths resolve against the CSV's folder.
// Fields may be double-quoted ("" escapes a quote). Throws dfscan::Error naming the line.
// `required_groups`: further columns the header must name (as groups, e.g. "task").
Dataset read_csv_dataset(const std::filesystem::path& csv,
                         const std::vector<std::string>& required_groups = {});

// A folder -> read_folder_dataset; a file ending in .csv -> read_csv_dataset; "sbi:SPEC" or
// "sbi-hull:SPEC" -> the self-blended data source of SPEC's real images (dfscan/sbi.hpp).
Dataset open_dataset(const std::string& spec);

// Decodes samples to RGB uint8 [H,W,3] CPU tensors. Thread-safe: worker threads share one reader.
// Shards are loaded once and kept. Image files need the media build (DFSCAN_WITH_MEDIA).
class SampleReader {
 public:
  SampleReader();
  ~SampleReader();
  SampleReader(const SampleReader&) = delete;
  SampleReader& operator=(const SampleReader&) = delete;

  // Throws dfscan::Error (with the file's status) when the sample cannot be read.
  at::Tensor read(const Sample& sample) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dfscan::data
