// `dfscan eval --scores` end to end: the built binary against the fixture's reference numbers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/scoped_temp_dir.hpp"
#include "fixtures.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kBinary = DFSCAN_BINARY_DIR "/apps/dfscan/dfscan";

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kBinary)) GTEST_SKIP() << "build the dfscan target first: " << kBinary;
    dir_ =
        fs::temp_directory_path() /
        ("dfscan-eval-cli-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) dfscan::test::remove_tree(dir_);
  }
  Outcome dfscan(const std::string& args) {
    const auto out = dir_ / "stdout", err = dir_ / "stderr";
    const std::string cmd =
        quote(kBinary) + " " + args + " >" + quote(out.string()) + " 2>" + quote(err.string());
    const int status = std::system(cmd.c_str());
    Outcome r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  fs::path dir_;
};

json grouped_case() {
  for (const auto& c : dfscan::eval::testing::load_cases())
    if (c["name"] == "grouped_cli") return c;
  ADD_FAILURE() << "no grouped_cli fixture case";
  return {};
}

void expect_same(const json& got, const json& want, const std::string& key, double tolerance) {
  ASSERT_TRUE(got.contains(key)) << key;
  if (want[key].is_null()) {
    EXPECT_TRUE(got[key].is_null()) << key << " = " << got[key];
    EXPECT_TRUE(got["reasons"].contains(key)) << key << " is null without a reason";
    return;
  }
  ASSERT_TRUE(got[key].is_number()) << key << " = " << got[key];
  EXPECT_NEAR(got[key].get<double>(), want[key].get<double>(), tolerance) << key;
}

const char* const kMetricKeys[] = {"auc",           "ap",       "log_loss",          "eer",
                                   "eer_threshold", "accuracy", "balanced_accuracy", "tpr_at_fpr_1pct"};

TEST_F(EvalCli, JsonMatchesTheReferenceNumbers) {
  const auto c = grouped_case();
  const auto csv = dfscan::eval::testing::metric_fixture_dir() + "/grouped_scores.csv";
  const auto r =
      dfscan("eval --scores " + quote(csv) + " --format json --bootstrap 200 --seed 3 --group-by dataset");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = json::parse(r.out);
  const auto& want = c["expected"];
  for (const char* key : {"n", "n_fake", "n_real"}) EXPECT_EQ(doc[key], want[key]) << key;
  for (const char* key : kMetricKeys) expect_same(doc, want, key, 1e-12);
  EXPECT_EQ(doc["confusion"], want["confusion"]);
  for (const char* key : {"auc", "ap", "eer", "accuracy"}) {
    SCOPED_TRACE(key);
    const auto& ci = doc["ci95"][key];
    ASSERT_TRUE(ci["low"].is_number() && ci["high"].is_number()) << ci;
    EXPECT_LE(ci["low"].get<double>(), doc[key].get<double>());
    EXPECT_GE(ci["high"].get<double>(), doc[key].get<double>());
    EXPECT_EQ(ci["resamples_used"], 200);
  }
  const auto& groups = doc["groups"];
  EXPECT_EQ(groups["column"], "dataset");
  EXPECT_NEAR(groups["auc_gap"].get<double>(), c["expected_auc_gap"].get<double>(), 1e-12);
  for (const auto& [name, expected] : c["expected_groups"].items()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(groups["by_group"].contains(name));
    for (const char* key : kMetricKeys) expect_same(groups["by_group"][name], expected, key, 1e-12);
  }
}

TEST_F(EvalCli, ShardsGiveTheSameNumbersAsOneFile) {
  const auto csv = dfscan::eval::testing::metric_fixture_dir() + "/grouped_scores.csv";
  std::ifstream in(csv);
  std::string header, line;
  std::getline(in, header);
  std::string a = header + "\n", b = header + "\n";
  for (int i = 0; std::getline(in, line); ++i) {
    (i % 2 ? a : b) += line + "\n";
    if (i < 10) a += line + "\n";  // the first rows again in shard A, as after a re-run
  }
  const auto whole = dfscan("eval --scores " + quote(csv) + " --format json --bootstrap 0");
  const auto sharded = dfscan("eval --scores " + quote(write("a.csv", a)) + " " + quote(write("b.csv", b)) +
                              " --format json --bootstrap 0");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  ASSERT_EQ(sharded.exit_code, 0) << sharded.err;
  const auto w = json::parse(whole.out), s = json::parse(sharded.out);
  EXPECT_GE(s["duplicates_dropped"].get<int>(), 5);
  EXPECT_EQ(s["n"], w["n"]);
  // Ranking metrics do not depend on row order; the log-loss sum may differ in the last bit.
  for (const char* key : kMetricKeys) EXPECT_NEAR(s[key].get<double>(), w[key].get<double>(), 1e-12) << key;
  EXPECT_TRUE(s["ci95"].is_null());
}

TEST_F(EvalCli, OneClassGivesNullsWithReasons) {
  const auto csv = write("fakes.csv", "path,label,score\na,fake,0.9\nb,fake,0.4\n");
  const auto r = dfscan("eval --scores " + quote(csv) + " --format json --bootstrap 20");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = json::parse(r.out);
  EXPECT_TRUE(doc["auc"].is_null());
  EXPECT_NE(doc["reasons"]["auc"].get<std::string>().find("only one class present"), std::string::npos);
  EXPECT_TRUE(doc["eer"].is_null());
  EXPECT_TRUE(doc["log_loss"].is_number());
  EXPECT_TRUE(doc["ci95"]["auc"]["low"].is_null());
}

TEST_F(EvalCli, TextFormatPrintsAnAlignedTable) {
  const auto c = grouped_case();
  const auto csv = dfscan::eval::testing::metric_fixture_dir() + "/grouped_scores.csv";
  const auto r = dfscan("eval --scores " + quote(csv) + " --bootstrap 50 --group-by dataset");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  char auc[32];
  std::snprintf(auc, sizeof auc, "%.6f", c["expected"]["auc"].get<double>());
  EXPECT_NE(r.out.find(std::string("auc                        ") + auc), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("auc gap"), std::string::npos) << r.out;
}

TEST_F(EvalCli, BadRowIsOneLineAndExit2) {
  const auto csv = write("bad.csv", "path,label,score\na,fake,0.9\nb,real,abc\n");
  const auto r = dfscan("eval --scores " + quote(csv));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // exactly one line
  EXPECT_NE(r.err.find("bad.csv:3: score \"abc\""), std::string::npos) << r.err;
}

TEST_F(EvalCli, MissingFileIsExit2) {
  const auto r = dfscan("eval --scores " + quote((dir_ / "absent.csv").string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(EvalCli, UsageErrorsAreExit64) {
  const auto csv = write("ok.csv", "path,label,score\na,1,0.9\nb,0,0.1\n");
  EXPECT_EQ(dfscan("eval --scores " + quote(csv) + " --threshold abc").exit_code, 64);
  EXPECT_EQ(dfscan("eval --scores " + quote(csv) + " --threshold 1.5").exit_code, 64);
  EXPECT_EQ(dfscan("eval --scores " + quote(csv) + " --format xml").exit_code, 64);
  EXPECT_EQ(dfscan("eval --scores " + quote(csv) + " --bootstrap -3").exit_code, 64);
  EXPECT_EQ(dfscan("eval").exit_code, 64);
}

}  // namespace
