// `dfscan eval --dataset` end to end on the shared DFDC face-crop sample with a shipped model, and
// `--shard I/N` + `dfscan eval merge` against the unsharded run (exact equality of the metrics).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "../common/cli.hpp"
#include "../common/scoped_temp_dir.hpp"

namespace dfscan::eval::testing {
namespace {

using namespace dfscan::test;

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kSample = fs::path(DFSCAN_SHARED_DIR) / "data" / "dfdc-faces-sample";
const std::string kModel = DFSCAN_SOURCE_DIR "/models/genconvit-ed-atto.safetensors";

class EvalDataset : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(dfscan_binary())) GTEST_SKIP() << "build the dfscan target first";
    if (!fs::is_directory(kSample / "test")) GTEST_SKIP() << "shared data absent: " << kSample;
    if (!fs::exists(kModel)) GTEST_SKIP() << "shipped model absent: " << kModel;
  }
  Outcome dfscan(const std::string& args) { return run_dfscan(args, dir_.path()); }
  dfscan::test::ScopedTempDir dir_{"eval-dataset"};
};

TEST_F(EvalDataset, TestSplitOfTheDfdcSamplePrintsTheMetricTable) {
  const auto csv = dir_ / "scores.csv";
  const auto r = dfscan("eval --dataset folder --root " + quote(kSample.string()) + " --split test -m " +
                        quote(kModel) + " --bootstrap 200 -o " + quote(csv.string()));
  ASSERT_TRUE(r.exit_code == 0) << r.exit_code << "\n" << r.err << r.out;
  std::cout << r.out;
  EXPECT_NE(r.out.find("scored files"), std::string::npos);
  EXPECT_NE(r.out.find("\nscored by genconvit-ed-atto@sha256:"), std::string::npos) << "which run made the scores";
  for (const char* row : {"\nauc ", "\nap ", "\neer ", "\nlog_loss ", "\naccuracy ", "\nbalanced_accuracy ",
                          "\ntpr_at_fpr_1pct "})
    EXPECT_NE(r.out.find(row), std::string::npos) << row;
  EXPECT_NE(r.out.find("95% CI"), std::string::npos);
  EXPECT_NE(r.out.find("threshold 0.752996 (model)"), std::string::npos)
      << "the model's threshold should be used";
  // Every test crop is in the scores file, scored or with its status.
  const auto rows = slurp(csv);
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 1 + 56) << rows;
}

// Copies `n` crops of each class of the test split into a small folder dataset.
fs::path small_copy(const fs::path& to, int n) {
  for (const char* label : {"fake", "real"}) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(kSample / "test" / label)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    fs::create_directories(to / "test" / label);
    for (int i = 0; i < n && i < static_cast<int>(files.size()); ++i)
      fs::copy_file(files[static_cast<std::size_t>(i)],
                    to / "test" / label / files[static_cast<std::size_t>(i)].filename());
  }
  return to;
}

json metrics_only(json doc) {
  doc.erase("inputs");
  doc.erase("config");
  return doc;
}

TEST_F(EvalDataset, ShardsMergedEqualTheUnshardedRunExactly) {
  const auto root = small_copy(dir_ / "data", 6);
  const std::string common = "--dataset folder --root " + quote(root.string()) + " -m " + quote(kModel) +
                             " --bootstrap 300 --seed 7";
  const auto whole = dfscan("eval " + common + " --format json -o " + quote((dir_ / "all.csv").string()) +
                            " --report " + quote((dir_ / "r0").string()));
  ASSERT_NE(whole.exit_code, 64) << whole.err;
  std::string shards;
  std::size_t shard_rows = 0;
  for (int i = 0; i < 3; ++i) {
    const auto file = dir_ / ("shard-" + std::to_string(i) + ".csv");
    const auto s = dfscan("eval " + common + " --shard " + std::to_string(i) + "/3 --format json -o " +
                          quote(file.string()));
    ASSERT_EQ(s.exit_code, whole.exit_code) << s.err;
    const auto text = slurp(file);
    shard_rows += static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) - 1;
    shards += " " + quote(file.string());
  }
  EXPECT_EQ(shard_rows, 12u) << "the shards must partition the dataset";
  const auto merged = dfscan("eval merge" + shards + " --bootstrap 300 --seed 7 --format json --report " +
                             quote((dir_ / "r1").string()));
  ASSERT_EQ(merged.exit_code, whole.exit_code) << merged.err;
  const auto w = json::parse(whole.out), m = json::parse(merged.out);
  EXPECT_EQ(w["statuses"], m["statuses"]);
  EXPECT_TRUE(w["auc"].is_number() || w["n"] == 0);
  EXPECT_EQ(metrics_only(w).dump(), metrics_only(m).dump());
  // The saved reports agree too, curves included.
  const auto rw = json::parse(slurp(dir_ / "r0" / "report.json")),
             rm = json::parse(slurp(dir_ / "r1" / "report.json"));
  EXPECT_EQ(rw["plots"].dump(), rm["plots"].dump());
  EXPECT_EQ(metrics_only(rw).dump(), metrics_only(rm).dump());
  // The per-file scores of the unsharded run are the merged shards, row for row.
  const auto again =
      dfscan("eval merge " + quote((dir_ / "all.csv").string()) + " --bootstrap 300 --seed 7 --format json");
  EXPECT_EQ(metrics_only(json::parse(again.out)).dump(), metrics_only(w).dump());
  EXPECT_NE(w["scored_by"].get<std::string>().find("genconvit-ed-atto@sha256:"), std::string::npos) << w;

  // Shard 0 scored again with other settings does not merge with the others.
  const auto odd = dir_ / "shard-0-max.csv";
  ASSERT_EQ(dfscan("eval " + common + " --aggregate max --shard 0/3 -o " + quote(odd.string())).exit_code,
            whole.exit_code);
  const auto mixed =
      dfscan("eval merge " + quote(odd.string()) + " " + quote((dir_ / "shard-1.csv").string()) + " " +
             quote((dir_ / "shard-2.csv").string()));
  EXPECT_EQ(mixed.exit_code, 2) << mixed.out << mixed.err;
  EXPECT_NE(mixed.err.find("aggregate=mean\", but "), std::string::npos) << mixed.err;
  EXPECT_NE(mixed.err.find("shard-0-max.csv:2 by \"genconvit-ed-atto@sha256:"), std::string::npos)
      << mixed.err;
}

TEST(EvalCropCache, IndexCsvOfShardRowsIsScoredWithoutTheScanner) {
  // A face-crop cache in miniature: one .pth shard of uint8 [N,H,W,3] crops and its index.csv.
  if (!fs::exists(dfscan_binary()) || !fs::exists(kModel))
    GTEST_SKIP() << "needs the binary and the shipped model";
  dfscan::test::ScopedTempDir dir("eval-crop-cache");
  fs::create_directories(dir / "shards");
  const std::string make_shard =
      "/usr/bin/python3 -c \"import torch; g = torch.Generator().manual_seed(3); "
      "torch.save({'images': torch.randint(0, 256, (6, 48, 48, 3), dtype=torch.uint8, generator=g)}, '" +
      (dir / "shards" / "shard-000000.pth").string() + "')\"";
  if (run_command(make_shard, dir.path()).exit_code != 0) GTEST_SKIP() << "no /usr/bin/python3 with torch";
  std::ofstream(dir / "index.csv") << "path,label,split,source,track,frame\n"
                                      "shards/shard-000000.pth#0,fake,test,v1.mp4,0,0\n"
                                      "shards/shard-000000.pth#1,fake,test,v1.mp4,0,1\n"
                                      "shards/shard-000000.pth#2,real,test,v2.mp4,0,0\n"
                                      "shards/shard-000000.pth#3,real,test,v2.mp4,0,1\n"
                                      "shards/shard-000000.pth#4,fake,test,v3.mp4,0,0\n"
                                      "shards/shard-000000.pth#9,real,test,v4.mp4,0,0\n";
  const auto r =
      run_dfscan("eval --dataset csv --root " + quote((dir / "index.csv").string()) + " -m " + quote(kModel) +
                     " --video-key source --bootstrap 0 --format json -o " + quote((dir / "s.csv").string()),
                 dir.path());
  ASSERT_NE(r.exit_code, 64) << r.err;
  const auto doc = json::parse(r.out);
  EXPECT_EQ(doc["n"], 5) << doc.dump(1);
  EXPECT_EQ(doc["unscored"]["count"], 1);  // row 9 is past the shard's end: listed, not scored
  EXPECT_EQ(doc["levels"]["frame"]["n"], 5);
  EXPECT_EQ(doc["levels"]["video"]["n"], 3);  // v1, v2, v3: v4 had no scored crop
  EXPECT_EQ(doc["config"]["precut_crops"], 6);
  EXPECT_EQ(doc["config"]["media_files"], 0);
}

TEST_F(EvalDataset, AFileNameThatIsNotUtf8DoesNotCostTheEvaluation) {
  // JSON cannot hold a Latin-1 name: the report shows U+FFFD for it, instead of the run ending
  // at its last step with an encoding error.
  const auto root = small_copy(dir_ / "latin1", 2);
  std::ofstream(root / "test" / "fake" / "caf\xe9.jpg") << "not an image";
  const auto r = dfscan("eval --dataset folder --root " + quote(root.string()) + " -m " + quote(kModel) +
                        " --bootstrap 0 --format json --report " + quote((dir_ / "rep").string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;  // the file itself is not an image
  const auto doc = json::parse(r.out);
  bool listed = false;
  for (const auto& f : doc["unscored"]["files"])
    listed = listed || f["path"].get<std::string>().find("caf\xef\xbf\xbd.jpg") != std::string::npos;
  EXPECT_TRUE(listed) << doc["unscored"];
  EXPECT_TRUE(fs::exists(dir_ / "rep" / "report.json"));
  EXPECT_TRUE(fs::exists(dir_ / "rep" / "report.html"));
}

}  // namespace
}  // namespace dfscan::eval::testing
