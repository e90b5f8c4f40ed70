// open_benchmark's dispatch, LayoutReport, and the folder/csv adapters.
#include <gtest/gtest.h>

#include "benchmark_test_util.hpp"
#include "dfscan/status.hpp"

using namespace benchmark_test;
using namespace dfscan::data;

TEST(Benchmarks, NamesAreListedAndUnknownNamesAreRefused) {
  const auto names = benchmark_names();
  ASSERT_GE(names.size(), 2u);
  EXPECT_EQ(names[0], "folder");
  EXPECT_EQ(names[1], "csv");
  TempDir t;
  try {
    open_benchmark("nosuch", t.path);
    FAIL() << "no error";
  } catch (const dfscan::Error& e) {
    EXPECT_EQ(e.status(), dfscan::Status::unsupported);
    EXPECT_NE(std::string(e.what()).find("nosuch"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("folder"), std::string::npos);
  }
}

TEST(Benchmarks, MissingRootIsNotFound) {
  TempDir t;
  try {
    open_benchmark("folder", t.path / "absent");
    FAIL() << "no error";
  } catch (const dfscan::Error& e) {
    EXPECT_EQ(e.status(), dfscan::Status::not_found);
  }
}

TEST(Benchmarks, FolderThroughTheRegistryWithSplitFilter) {
  TempDir t;
  write(t.path / "train/real/a.jpg");
  write(t.path / "train/fake/b.jpg");
  write(t.path / "test/fake/c.jpg");
  auto all = open_benchmark("folder", t.path);
  EXPECT_EQ(all.dataset.size(), 3u);
  EXPECT_EQ(all.layout.expected, 3u);
  EXPECT_EQ(all.layout.found, 3u);
  EXPECT_EQ(all.layout.missing_count, 0u);
  EXPECT_EQ(all.dataset.source().rfind("folder:", 0), 0u);
  BenchmarkOptions o;
  o.split = Split::test;
  auto test = open_benchmark("folder", t.path, o);
  ASSERT_EQ(test.dataset.size(), 1u);
  EXPECT_EQ(test.dataset.samples()[0].label, 1);
  EXPECT_EQ(test.layout.expected, 1u);
}

TEST(Benchmarks, CsvMissingFilesRequireFilesSkipAndKeep) {
  TempDir t;
  write(t.path / "a.jpg");
  write(t.path / "c.jpg");
  write(t.path / "list.csv",
        "path,label,split,method\na.jpg,fake,test,x\nb.jpg,real,test,y\nc.jpg,0,train,y\nd.jpg,1,test,x\n");
  // Default: missing files are an error with the count and the first paths.
  try {
    open_benchmark("csv", t.path / "list.csv");
    FAIL() << "no error";
  } catch (const dfscan::Error& e) {
    EXPECT_EQ(e.status(), dfscan::Status::not_found);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("2 of 4 files missing"), std::string::npos) << msg;
    EXPECT_NE(msg.find("b.jpg"), std::string::npos) << msg;
    EXPECT_NE(msg.find("d.jpg"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
  BenchmarkOptions o;
  o.require_files = false;
  auto skip = open_benchmark("csv", t.path / "list.csv", o);
  EXPECT_EQ(skip.dataset.size(), 2u);
  EXPECT_EQ(skip.layout.expected, 4u);
  EXPECT_EQ(skip.layout.found, 2u);
  EXPECT_EQ(skip.layout.missing_count, 2u);
  ASSERT_EQ(skip.layout.missing_examples.size(), 2u);
  EXPECT_NE(skip.layout.summary().find("4 expected, 2 found, 2 missing"), std::string::npos)
      << skip.layout.summary();
  EXPECT_EQ(skip.dataset.samples()[0].groups.at("method"), "x");
  o.keep_missing = true;
  auto keep = open_benchmark("csv", t.path / "list.csv", o);
  EXPECT_EQ(keep.dataset.size(), 4u);
  EXPECT_EQ(keep.layout.missing_count, 2u);
  // The split filter applies before the disk check: the test split misses b and d.
  o.keep_missing = false;
  o.split = Split::train;
  auto train = open_benchmark("csv", t.path / "list.csv", o);
  EXPECT_EQ(train.dataset.size(), 1u);
  EXPECT_EQ(train.layout.missing_count, 0u);
}

TEST(Benchmarks, RelativeRootsFindTheirFiles) {
  // `dfscan eval --dataset folder --root data` found none of its files: the folder and csv
  // adapters joined the root to paths that already began with it (data/data/test/...).
  TempDir t;
  write(t.path / "data/test/real/a.jpg");
  write(t.path / "data/test/fake/b.jpg");
  write(t.path / "lists/c.jpg");
  write(t.path / "lists/list.csv", "path,label,split\nc.jpg,fake,test\n");
  const auto before = fs::current_path();
  fs::current_path(t.path);
  std::vector<std::string> problems;
  for (const std::string root : {"data", "data/", "./data"}) {
    try {
      const auto b = open_benchmark("folder", root);
      if (b.dataset.size() != 2u || b.layout.missing_count != 0u) problems.push_back("folder " + root);
      for (const auto& s : b.dataset)
        if (!fs::exists(s.path)) problems.push_back(root + ": " + s.path);
    } catch (const dfscan::Error& e) {
      problems.push_back(root + ": " + e.what());
    }
  }
  try {
    const auto c = open_benchmark("csv", "lists/list.csv");
    if (c.dataset.size() != 1u || !fs::exists(c.dataset.samples()[0].path)) problems.push_back("csv");
  } catch (const dfscan::Error& e) {
    problems.push_back(std::string("csv: ") + e.what());
  }
  fs::current_path(before);
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
}

TEST(Benchmarks, LayoutSummaryShowsFirstExamplesOnly) {
  LayoutReport r;
  r.expected = 10;
  r.found = 3;
  r.missing_count = 7;
  r.missing_examples = {"a", "b", "c", "d", "e"};
  r.extra_count = 1;
  r.extra_examples = {"z"};
  EXPECT_EQ(r.summary(), "10 expected, 3 found, 7 missing (a, b, c, d, e, ...), 1 extra (z)");
}
