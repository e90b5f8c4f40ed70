// Dataset adapters: folder layout, CSV, tensor shards; labels are 1 = fake everywhere.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "../common/scoped_temp_dir.hpp"
#include "dfscan/config.hpp"
#include "dfscan/dataset.hpp"
#include "dfscan/status.hpp"

namespace fs = std::filesystem;
using namespace dfscan::data;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("dfscan-data-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    dfscan::test::remove_tree(path);
    fs::create_directories(path);
  }
  ~TempDir() { dfscan::test::remove_tree(path); }
};

void touch(const fs::path& p, const std::string& content = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

const fs::path kShard = fs::path(DFSCAN_TEST_DATA_DIR) / "tiny_shard.pth";

}  // namespace

TEST(FolderDataset, SplitsClassesAndSortedOrder) {
  TempDir t;
  touch(t.path / "train/real/b.jpg");
  touch(t.path / "train/real/a.jpg");
  touch(t.path / "train/fake/z.jpg");
  touch(t.path / "train/fake/.DS_Store");
  touch(t.path / "val/fake/sub/c.jpg");  // "val" spelling, nested folders
  touch(t.path / "test/real/d.jpg");
  const auto ds = read_folder_dataset(t.path);
  ASSERT_EQ(ds.size(), 5u);
  const auto train = ds.split(Split::train);
  ASSERT_EQ(train.size(), 3u);
  // Sorted by path relative to the split folder: fake/ before real/.
  EXPECT_EQ(fs::path(train[0].path).filename(), "z.jpg");
  EXPECT_EQ(train[0].label, 1);
  EXPECT_EQ(fs::path(train[1].path).filename(), "a.jpg");
  EXPECT_EQ(train[1].label, 0);
  EXPECT_EQ(fs::path(train[2].path).filename(), "b.jpg");
  const auto valid = ds.split(Split::valid);
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].label, 1);
  EXPECT_EQ(ds.split(Split::test).at(0).label, 0);
  EXPECT_EQ(
      ds.summary(),
      R"({"test":{"fake":0,"n":1,"real":1},"train":{"fake":1,"n":3,"real":2},"valid":{"fake":1,"n":1,"real":0}})");
}

TEST(FolderDataset, NoSplitFolderIsAnError) {
  TempDir t;
  touch(t.path / "real/a.jpg");
  EXPECT_THROW(read_folder_dataset(t.path), dfscan::Error);
  EXPECT_THROW(read_folder_dataset(t.path / "missing"), dfscan::Error);
}

TEST(CsvDataset, LabelsSplitsGroupsAndQuoting) {
  TempDir t;
  touch(t.path / "list.csv",
        "path,label,split,method\n"
        "a.jpg,fake,train,Deepfakes\n"
        "\"b,1.jpg\",0,val,\"said \"\"none\"\"\"\n"
        "/abs/c.jpg,REAL,test,\n"
        "\n");
  const auto ds = read_csv_dataset(t.path / "list.csv");
  ASSERT_EQ(ds.size(), 3u);
  EXPECT_EQ(ds.samples()[0].path, (t.path / "a.jpg").string());
  EXPECT_EQ(ds.samples()[0].label, 1);
  EXPECT_EQ(ds.samples()[0].groups.at("method"), "Deepfakes");
  EXPECT_EQ(ds.samples()[1].path, (t.path / "b,1.jpg").string());
  EXPECT_EQ(ds.samples()[1].split, Split::valid);
  EXPECT_EQ(ds.samples()[1].groups.at("method"), "said \"none\"");
  EXPECT_EQ(ds.samples()[2].path, "/abs/c.jpg");
  EXPECT_EQ(ds.samples()[2].label, 0);
  EXPECT_EQ(ds.samples()[2].split, Split::test);
}

TEST(CsvDataset, SpreadsheetExportsRead) {
  // A byte order mark and CRLF line endings, as spreadsheets save "CSV UTF-8"; a quote inside a
  // plain field is text, as Python's csv module writes and reads it.
  TempDir t;
  touch(t.path / "excel.csv", "\xEF\xBB\xBFpath,label,split,note\r\na.jpg,1,train,a 12\" screen\r\n");
  const auto ds = read_csv_dataset(t.path / "excel.csv");
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds.samples()[0].path, (t.path / "a.jpg").string());
  EXPECT_EQ(ds.samples()[0].groups.at("note"), "a 12\" screen");
}

TEST(CsvDataset, BadRowsNameTheLine) {
  TempDir t;
  touch(t.path / "bad.csv", "path,label,split\na.jpg,maybe,train\n");
  try {
    read_csv_dataset(t.path / "bad.csv");
    FAIL() << "expected an error";
  } catch (const dfscan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:2"), std::string::npos) << e.what();
  }
  touch(t.path / "nosplit.csv", "path,label\na.jpg,1\n");
  EXPECT_THROW(read_csv_dataset(t.path / "nosplit.csv"), dfscan::Error);
  touch(t.path / "fields.csv", "path,label,split\na.jpg,1\n");
  EXPECT_THROW(read_csv_dataset(t.path / "fields.csv"), dfscan::Error);
  touch(t.path / "quote.csv", "path,label,split\na.jpg,1,train\n\"b.jpg,0,train\n");
  try {
    read_csv_dataset(t.path / "quote.csv");
    FAIL() << "expected an error";
  } catch (const dfscan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("quote.csv:3: unterminated quoted field"), std::string::npos)
        << e.what();
  }
}

TEST(OpenDataset, DispatchesOnFolderOrCsv) {
  TempDir t;
  touch(t.path / "d/train/real/a.jpg");
  touch(t.path / "x.csv", "path,label,split\na.jpg,1,train\n");
  EXPECT_EQ(open_dataset((t.path / "d").string()).size(), 1u);
  EXPECT_EQ(open_dataset((t.path / "x.csv").string()).source(), "csv:" + (t.path / "x.csv").string());
  EXPECT_THROW(open_dataset((t.path / "nope").string()), dfscan::Error);
}

TEST(SampleReader, ReadsShardRows) {
  SampleReader reader;
  auto a = reader.read(Sample{kShard.string() + "#0", 0, Split::train, {}});
  auto b = reader.read(Sample{kShard.string() + "#31", 1, Split::train, {}});
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{16, 16, 3}));
  EXPECT_EQ(a.scalar_type(), torch::kUInt8);
  EXPECT_FALSE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(a, reader.read(Sample{kShard.string() + "#0", 0, Split::train, {}})));
  EXPECT_THROW(reader.read(Sample{kShard.string() + "#32", 0, Split::train, {}}), dfscan::Error);
}

TEST(SampleReader, DecodesTheSharedFacesLikeOpenCv) {
  const fs::path root = fs::path(DFSCAN_SHARED_DIR) / "data/dfdc-faces-sample";
  if (!fs::is_directory(root)) GTEST_SKIP() << "no " << root;
  const auto ds = read_folder_dataset(root);
  EXPECT_EQ(ds.split(Split::train).size(), 54u);
  EXPECT_EQ(ds.split(Split::valid).size(), 56u);
  EXPECT_EQ(ds.split(Split::test).size(), 56u);
  if (!DFSCAN_WITH_MEDIA) GTEST_SKIP() << "image decoding needs the media build";
  SampleReader reader;
  const auto img = reader.read(ds.split(Split::train).front());
  EXPECT_EQ(img.sizes(), (std::vector<int64_t>{224, 224, 3}));
  EXPECT_GT(img.to(torch::kFloat).std().item<float>(), 5.0f);
}
