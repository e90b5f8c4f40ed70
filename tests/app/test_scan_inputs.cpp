#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "../common/scoped_temp_dir.hpp"
#include "scan_inputs.hpp"

namespace fs = std::filesystem;
using namespace dfscan::cli;

namespace {
struct TempTree {
  fs::path root = fs::temp_directory_path() / ("dfscan_inputs_" + std::to_string(::getpid()));
  TempTree() {
    fs::create_directories(root / "sub/deeper");
    for (auto rel : {"b.mp4", "a.jpg", "c.txt", "sub/d.mp4", "sub/deeper/e.wav"})
      std::ofstream(root / rel) << "x";
  }
  ~TempTree() { dfscan::test::remove_tree(root); }
};
std::vector<std::string> keys(const std::vector<InputFile>& v) {
  std::vector<std::string> out;
  for (const auto& f : v) out.push_back(f.shard_key);
  return out;
}
}  // namespace

TEST(ScanInputs, FolderIsOneLevelSortedUnlessRecursive) {
  TempTree t;
  EXPECT_EQ(keys(expand_inputs({t.root.string()}, {})),
            (std::vector<std::string>{"a.jpg", "b.mp4", "c.txt"}));
  InputOptions rec;
  rec.recursive = true;
  EXPECT_EQ(keys(expand_inputs({t.root.string()}, rec)),
            (std::vector<std::string>{"a.jpg", "b.mp4", "c.txt", "sub/d.mp4", "sub/deeper/e.wav"}));
}

TEST(ScanInputs, GlobsFilterAndMissingPathsAreKept) {
  TempTree t;
  InputOptions o;
  o.recursive = true;
  o.include = {"*.mp4", "*.wav"};
  o.exclude = {"sub/deeper/*"};
  EXPECT_EQ(keys(expand_inputs({t.root.string()}, o)), (std::vector<std::string>{"b.mp4", "sub/d.mp4"}));
  auto missing = expand_inputs({"/no/such/file.mp4"}, {});
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].path, "/no/such/file.mp4");
}

TEST(ScanInputs, FileListsSplitOnNewlineOrNul) {
  TempTree t;
  auto list = t.root / "list";
  std::ofstream(list) << "one\r\ntwo\n\nthree";
  EXPECT_EQ(read_file_list(list.string()), (std::vector<std::string>{"one", "two", "three"}));
  std::ofstream(list, std::ios::binary) << std::string("a b\nc\0d", 7);
  EXPECT_EQ(read_file_list(list.string()), (std::vector<std::string>{"a b\nc", "d"}));
  // Comments in newline lists only: NUL lists come from find -print0 and are taken whole.
  std::ofstream(list, std::ios::binary) << "# clips for review\none\n  # not a comment\n./#two\n";
  EXPECT_EQ(read_file_list(list.string()), (std::vector<std::string>{"one", "  # not a comment", "./#two"}));
  std::ofstream(list, std::ios::binary) << std::string("#one\0two\0", 9);
  EXPECT_EQ(read_file_list(list.string()), (std::vector<std::string>{"#one", "two"}));
}

TEST(ScanInputs, ShardsPartitionByFnv1a) {
  // Published FNV-1a 64 test vectors.
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(parse_shard("1/4"), std::make_pair(std::uint64_t{1}, std::uint64_t{4}));
  EXPECT_THROW(parse_shard("4/4"), std::invalid_argument);
  EXPECT_THROW(parse_shard("1/0"), std::invalid_argument);
  EXPECT_THROW(parse_shard("x/2"), std::invalid_argument);
  EXPECT_THROW(parse_shard("1"), std::invalid_argument);
}
