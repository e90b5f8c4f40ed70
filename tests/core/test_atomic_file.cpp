#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "dfscan/atomic_file.hpp"
#include "dfscan/status.hpp"

namespace fs = std::filesystem;

TEST(AtomicFile, WritesWholeContentAndLeavesNoTemp) {
  auto dir = fs::temp_directory_path() / ("dfscan_atomic_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto target = dir / "out.json";
  dfscan::write_file_atomic(target, "first");
  dfscan::write_file_atomic(target, "second, longer");
  std::ifstream in(target);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "second, longer");
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1);
  fs::remove_all(dir);
}

TEST(AtomicFile, UnwritableDirectoryIsAnError) {
  EXPECT_THROW(dfscan::write_file_atomic("/nonexistent-dir/x/out.json", "x"), dfscan::Error);
}
