#pragma once
// Temp-dir layouts for the benchmark adapter tests. Deletion walks the tree with fs::remove
// (never remove_all: PyTorch 2.11's libtorch exports a broken copy of it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dfscan/benchmarks.hpp"

namespace benchmark_test {
namespace fs = std::filesystem;

inline void remove_tree(const fs::path& root) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(root, ec))) return;
  std::vector<fs::path> entries;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    entries.push_back(it->path());
  // Deepest first: files and emptied folders.
  std::sort(entries.begin(), entries.end(),
            [](const fs::path& a, const fs::path& b) { return a.string().size() > b.string().size(); });
  for (const auto& p : entries) fs::remove(p, ec);
  fs::remove(root, ec);
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("dfscan-bench-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    remove_tree(path);
    fs::create_directories(path);
  }
  ~TempDir() { remove_tree(path); }
};

inline void write(const fs::path& p, const std::string& content = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

inline size_t count_label(const dfscan::data::Dataset& ds, int label) {
  return static_cast<size_t>(
      std::count_if(ds.begin(), ds.end(), [&](const dfscan::data::Sample& s) { return s.label == label; }));
}

inline size_t count_split(const dfscan::data::Dataset& ds, dfscan::data::Split split) {
  return static_cast<size_t>(
      std::count_if(ds.begin(), ds.end(), [&](const dfscan::data::Sample& s) { return s.split == split; }));
}

inline size_t count_group(const dfscan::data::Dataset& ds, const std::string& key, const std::string& value) {
  return static_cast<size_t>(std::count_if(ds.begin(), ds.end(), [&](const dfscan::data::Sample& s) {
    auto it = s.groups.find(key);
    return it != s.groups.end() && it->second == value;
  }));
}

// The message of the dfscan::Error thrown by f, or "" when nothing is thrown.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

inline const fs::path kManifests = fs::path(DFSCAN_SHARED_DIR) / "manifests";

}  // namespace benchmark_test
