// `dfscan eval --scores` end to end: the built binary against the fixture's reference numbers.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/cli.hpp"
#include "../common/scoped_temp_dir.hpp"
#include "fixtures.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using dfscan::test::Outcome;
using dfscan::test::quote;
using dfscan::test::slurp;

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(dfscan::test::dfscan_binary()))
      GTEST_SKIP() << "build the dfscan target first: " << dfscan::test::dfscan_binary();
    dir_ =
        fs::temp_directory_path() /
        ("dfscan-eval-cli-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) dfscan::test::remove_tree(dir_);
  }
  Outcome dfscan(const std::string& args) { return dfscan::test::run_dfscan(args, dir_); }
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
  ASSERT_TRUE(doc["groups"].contains("dataset")) << doc["groups"];
  const auto& groups = doc["groups"]["dataset"];
  EXPECT_NEAR(groups["auc_gap"].get<double>(), c["expected_auc_gap"].get<double>(), 1e-12);
  for (const auto& [name, expected] : c["expected_groups"].items()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(groups["by_group"].contains(name));
    for (const char* key : kMetricKeys) expect_same(groups["by_group"][name], expected, key, 1e-12);
    EXPECT_EQ(groups["by_group"][name]["vs_all_reals"], expected["vs_all_reals"]);
  }
}

TEST_F(EvalCli, MinTdcfWithAsvScoresMatchesThePythonReimplementation) {
  std::ifstream in(dfscan::eval::testing::metric_fixture_dir() + "/cases.json");
  const auto want = json::parse(in)["tdcf_cases"][0]["expected"];
  const auto dir = dfscan::eval::testing::metric_fixture_dir();
  const auto r = dfscan("eval --scores " + quote(dir + "/tdcf_cm_scores.csv") + " --asv-scores " +
                        quote(dir + "/tdcf_asv_scores.txt") + " --format json --bootstrap 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = json::parse(r.out);
  for (const char* key : {"min_tdcf", "min_tdcf_threshold", "asv_eer", "asv_threshold"}) {
    ASSERT_TRUE(doc[key].is_number()) << key << " " << doc[key];
    EXPECT_NEAR(doc[key].get<double>(), want[key].get<double>(), 1e-12) << key;
  }
  const auto text = dfscan("eval --scores " + quote(dir + "/tdcf_cm_scores.csv") + " --asv-scores " +
                           quote(dir + "/tdcf_asv_scores.txt") + " --bootstrap 0");
  EXPECT_NE(text.out.find("min_tdcf "), std::string::npos) << text.out;
}

TEST_F(EvalCli, MinTdcf2021FromAsvScoresOrGivenWeights) {
  std::ifstream in(dfscan::eval::testing::metric_fixture_dir() + "/cases.json");
  const auto want = json::parse(in)["tdcf_cases"][0]["expected_2021"];
  const auto dir = dfscan::eval::testing::metric_fixture_dir();
  const auto scores = " --scores " + quote(dir + "/tdcf_cm_scores.csv");
  const auto asv = " --asv-scores " + quote(dir + "/tdcf_asv_scores.txt");
  const auto r = dfscan("eval" + scores + asv + " --tdcf 2021 --format json --bootstrap 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = json::parse(r.out);
  EXPECT_EQ(doc["tdcf_edition"], 2021);
  EXPECT_EQ(doc["min_tdcf"].get<double>(), want["min_tdcf"].get<double>());
  EXPECT_EQ(doc["min_tdcf_threshold"].get<double>(), want["min_tdcf_threshold"].get<double>());

  // The 2021 package's way: pre-computed C0, C1, C2 and no ASV scores (the formula follows).
  char c012[128];
  std::snprintf(c012, sizeof c012, " --c012 %.17g,%.17g,%.17g", want["c0"].get<double>(),
                want["c1"].get<double>(), want["c2"].get<double>());
  const auto given = dfscan("eval" + scores + c012 + " --format json --bootstrap 0");
  ASSERT_EQ(given.exit_code, 0) << given.err;
  const auto given_doc = json::parse(given.out);
  EXPECT_EQ(given_doc["tdcf_edition"], 2021);
  EXPECT_EQ(given_doc["min_tdcf"].get<double>(), want["min_tdcf"].get<double>());
  EXPECT_TRUE(given_doc["asv_eer"].is_null());
  const auto text = dfscan("eval" + scores + c012 + " --bootstrap 0");
  EXPECT_NE(text.out.find("min_tdcf (2021)"), std::string::npos) << text.out;

  // C012 are the 2021 formula's: asking for 2019 with them is a usage error, before any work.
  const auto clash = dfscan("eval" + scores + c012 + " --tdcf 2019");
  EXPECT_EQ(clash.exit_code, 64) << clash.err;
  EXPECT_NE(clash.err.find("--c012"), std::string::npos) << clash.err;
  EXPECT_EQ(dfscan("eval" + scores + " --c012 1,2").exit_code, 64) << "three weights";
}

TEST_F(EvalCli, MinTdcfFollowsTheScoresOwnEvaluation) {
  // Scores of `dfscan eval --dataset asvspoof2021` carry source asvspoof2021la: the 2021 formula,
  // as CONVENTIONS asks; any other source (or none) keeps the 2019 one.
  const auto dir = dfscan::eval::testing::metric_fixture_dir();
  const auto asv = " --asv-scores " + quote(dir + "/tdcf_asv_scores.txt");
  std::string la2021 = "path,label,score,source\n", la2019 = la2021;
  const double s[] = {0.1, 0.9, 0.3, 0.7, 0.2, 0.6, 0.45, 0.55};
  for (int i = 0; i < 8; ++i) {
    const std::string row =
        "LA_E_" + std::to_string(i) + "," + (i % 2 ? "fake" : "real") + "," + std::to_string(s[i]);
    la2021 += row + ",asvspoof2021la\n";
    la2019 += row + ",asvspoof2019la\n";
  }
  const auto r2021 =
      dfscan("eval --scores " + quote(write("la2021.csv", la2021)) + asv + " --format json --bootstrap 0");
  ASSERT_EQ(r2021.exit_code, 0) << r2021.err;
  EXPECT_EQ(json::parse(r2021.out)["tdcf_edition"], 2021);
  const auto r2019 =
      dfscan("eval --scores " + quote(write("la2019.csv", la2019)) + asv + " --format json --bootstrap 0");
  ASSERT_EQ(r2019.exit_code, 0) << r2019.err;
  EXPECT_EQ(json::parse(r2019.out)["tdcf_edition"], 2019);
  const auto forced = dfscan("eval --scores " + quote(write("la2021.csv", la2021)) + asv +
                             " --tdcf 2019 --format json --bootstrap 0");
  EXPECT_EQ(json::parse(forced.out)["tdcf_edition"], 2019);
}

TEST_F(EvalCli, UnscoredFilesAreCountedListedAndNeverScored) {
  const auto csv = write("run.csv",
                         "path,label,score,status,error,modality,threshold,frame_scores,gender\n"
                         "a.mp4,fake,0.9,ok,,video,0.6,0.8 1,f\n"
                         "b.mp4,real,0.2,ok,,video,0.6,0.1 0.3,m\n"
                         "c.mp4,real,0.7,ok,,video,0.6,0.7,f\n"
                         "d.mp4,fake,0.4,ok,,video,0.6,0.4,m\n"
                         "e.mp4,fake,,decode_error,broken stream,,,,f\n"
                         "f.mp4,real,,no_face,,video,,,m\n");
  const auto r = dfscan("eval --scores " + quote(csv) + " --format json --bootstrap 0");
  EXPECT_EQ(r.exit_code, 2) << r.err;  // a decode_error is a failure; no_face alone would not be
  const auto doc = json::parse(r.out);
  EXPECT_EQ(doc["n"], 4);
  EXPECT_EQ(doc["statuses"]["ok"], 4);
  EXPECT_EQ(doc["statuses"]["decode_error"], 1);
  EXPECT_EQ(doc["unscored"]["count"], 2);
  EXPECT_EQ(doc["unscored"]["files"][0]["path"], "e.mp4");
  EXPECT_EQ(doc["threshold"], 0.6);  // the scan's threshold, every file agreeing
  EXPECT_EQ(doc["levels"]["frame"]["n"], 6);
  EXPECT_EQ(doc["levels"]["video"]["n"], 4);  // the files are videos: per-file = per-video
  EXPECT_EQ(doc["groups"]["gender"]["by_group"]["f"]["n"], 2);
  EXPECT_NE(doc["groups"]["gender"]["auc_gap"], nullptr);
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
