#pragma once
// Shared by the benchmark adapters (benchmark_*.cpp): the manifest-versus-disk bookkeeping, and
// small text helpers. Internal to the data layer.
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "dfscan/benchmarks.hpp"

namespace dfscan::data::detail {

using Groups = std::map<std::string, std::string>;

std::string lower(std::string_view s);
std::string trim(std::string_view s);
// Splits on runs of white space (spaces, tabs, a CR before the newline).
std::vector<std::string> split_whitespace(std::string_view line);
// "FILE:LINE: " for error messages.
std::string at_line(const std::filesystem::path& file, size_t line_no);
std::string read_text_file(const std::filesystem::path& file);
// The first of `candidates` that is a regular file; empty when none is.
std::filesystem::path first_file(const std::vector<std::filesystem::path>& candidates);
// Regular files below `dir` (recursively), relative to `dir`, in byte order; hidden files skipped.
std::vector<std::string> list_files(const std::filesystem::path& dir);
// The entry of `dir` whose name equals `name` ignoring case (e.g. Youtube-real vs YouTube-real).
std::filesystem::path find_ignoring_case(const std::filesystem::path& dir, std::string_view name);

// Collects the samples a manifest names, checks each against the disk, and turns the result into a
// BenchmarkDataset with its LayoutReport. Paths are relative to the root unless absolute.
class LayoutCollector {
 public:
  LayoutCollector(std::string benchmark, std::filesystem::path root, const BenchmarkOptions& options);

  // A sample the manifest names. Samples outside options.split are remembered (so they are not
  // reported as extra) but neither counted nor returned. `present` skips the disk check, for
  // files the adapter has already enumerated (true) or indexed without finding (false).
  // members the adapter has already enumerated.
  void expect(const std::string& rel, int label, Split split, Groups groups,
              std::optional<bool> present = std::nullopt);
  // Every regular file below ROOT/dir_rel that no expect() named counts as extra.
  void check_extras(const std::string& dir_rel, const std::vector<std::string>& extensions = {});
  void extra(const std::string& rel);

  const std::filesystem::path& root() const { return root_; }
  const BenchmarkOptions& options() const { return options_; }

  // Throws (Status::not_found) on missing files when options.require_files.
  BenchmarkDataset finish(const std::string& source_detail);

 private:
  std::string benchmark_;
  std::filesystem::path root_;
  BenchmarkOptions options_;
  std::unordered_set<std::string> named_;
  std::vector<Sample> samples_;
  LayoutReport report_;
};

// The adapters, dispatched by open_benchmark.
BenchmarkDataset open_ffpp(const std::filesystem::path& root, const BenchmarkOptions& options);
BenchmarkDataset open_dfdc(const std::filesystem::path& root, const BenchmarkOptions& options);
BenchmarkDataset open_celebdf(const std::filesystem::path& root, const BenchmarkOptions& options);
BenchmarkDataset open_wilddeepfake(const std::filesystem::path& root, const BenchmarkOptions& options);
BenchmarkDataset open_deepfaketimit(const std::filesystem::path& root, const BenchmarkOptions& options);
BenchmarkDataset open_asvspoof2019la(const std::filesystem::path& root, const BenchmarkOptions& options);
BenchmarkDataset open_asvspoof2021(const std::filesystem::path& root, const BenchmarkOptions& options);
BenchmarkDataset open_inthewild(const std::filesystem::path& root, const BenchmarkOptions& options);

// gzip-compressed tar archives (benchmark_tar.cpp).
struct TarMember {
  std::string name;  // as stored, '/'-separated, no leading "./"
  size_t size = 0;
  bool regular = false;
};
std::vector<TarMember> list_tar_gz(const std::filesystem::path& archive);

}  // namespace dfscan::data::detail
