// Held-out accuracy of the shipped audio model through `dfscan scan` (label slow: it builds the
// Debian audio benchmark unless $DFSCAN_AUDIO_BENCHMARK names a built one). The benchmark's test
// split (recordings and sentences disjoint from training) is never used to train the model or to
// choose its threshold. Every real source and every attack type must give `ok` and a score, and at
// most 10 % of the files may be called wrongly at the model's own threshold.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/scoped_temp_dir.hpp"
#include "clips.hpp"

namespace fs = std::filesystem;
using dfscan::test::capture;
using dfscan::test::shell_quote;

namespace {

const fs::path kApp = fs::path(DFSCAN_BINARY_DIR) / "apps" / "dfscan" / "dfscan";

struct Row {
  std::string path, label, task, source;
};

// The built benchmark: $DFSCAN_AUDIO_BENCHMARK, else one built (once) under the build tree.
fs::path benchmark_dir() {
  if (const char* env = std::getenv("DFSCAN_AUDIO_BENCHMARK"); env && *env) return env;
  const fs::path dir = fs::path(DFSCAN_BINARY_DIR) / "audio-benchmark";
  if (fs::exists(dir / "manifest.csv")) return dir;
  for (const char* tool : {"sox", "espeak-ng", "flite", "text2wave", "c2enc", "c2dec"})
    if (!dfscan::test::have_tool(tool)) return {};
  const std::string build = shell_quote(DFSCAN_SOURCE_DIR "/scripts/build-audio-benchmark.sh") + " " +
                            shell_quote(dir.string()) + " >/dev/null 2>&1";
  return dfscan::test::run_shell(build) == 0 ? dir : fs::path();
}

TEST(AudioHeldOut, ShippedModelIsRightOnAtLeast90PercentOfTheTestSplit) {
  if (!fs::exists(kApp)) GTEST_SKIP() << "dfscan app not built";
  const auto bench = benchmark_dir();
  if (bench.empty())
    GTEST_SKIP()
        << "no audio benchmark (scripts/setup-deps.sh --audio-benchmark, or set DFSCAN_AUDIO_BENCHMARK)";
  std::ifstream manifest(bench / "manifest.csv");
  std::string line;
  std::getline(manifest, line);
  std::map<std::string, Row> rows;  // by path as scanned
  std::string args;
  while (std::getline(manifest, line)) {
    std::vector<std::string> c;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) c.push_back(f);
    if (c.size() < 6 || c[3] != "test") continue;
    const auto path = (bench / c[0]).string();
    // Real speech and codec2 resyntheses come from several recordings; the synthesisers are one type each.
    rows[path] = {path, c[1], c[2], c[2] == "real" || c[2] == "codec2" ? c[2] + "/" + c[4] : c[2]};
    args += " " + shell_quote(path);
  }
  ASSERT_GT(rows.size(), 100u);

  dfscan::test::ScopedTempDir no_user_models("audio-heldout-models");
  const auto list = no_user_models.path() / "records.jsonl";
  const int rc = dfscan::test::run_shell("DFSCAN_MODELS_DIR=" + shell_quote(no_user_models.path().string()) +
                                         " " + shell_quote(kApp.string()) + " scan -f jsonl --workers 2" +
                                         args + " > " + shell_quote(list.string()) + " 2>/dev/null");
  EXPECT_EQ(rc, 1) << "some files are fake: exit code 1";

  std::ifstream in(list);
  std::map<std::string, int> scored_by_group, wrong_by_group;
  int scored = 0, wrong = 0, real_wrong = 0, real_n = 0;
  while (std::getline(in, line)) {
    const auto r = nlohmann::json::parse(line);
    if (r.at("type") != "file") continue;
    const auto it = rows.find(r.at("path").get<std::string>());
    ASSERT_NE(it, rows.end()) << r.at("path");
    const auto& row = it->second;
    ASSERT_EQ(r.at("status"), "ok") << r.dump();
    ASSERT_TRUE(r.at("score").is_number());
    ASSERT_FALSE(r.at("timeline").empty());
    ++scored;
    ++scored_by_group[row.source];
    const bool error = r.at("label").get<std::string>() != row.label;
    wrong += error;
    wrong_by_group[row.source] += error;
    if (row.label == "real") {
      ++real_n;
      real_wrong += error;
    }
  }
  ASSERT_EQ(scored, static_cast<int>(rows.size()));
  for (const auto& [group, n] : scored_by_group)
    std::printf("%-28s %3d files, %3d wrong\n", group.c_str(), n, wrong_by_group[group]);
  std::printf("all: %d files, %d wrong (%.1f %%); real: %d files, %d called fake\n", scored, wrong,
              100.0 * wrong / scored, real_n, real_wrong);
  for (const char* group : {"espeak", "flite", "festival-kal", "festival-hts"})
    EXPECT_GT(scored_by_group[group], 0) << group;
  EXPECT_GE(real_n, 20);
  EXPECT_LE(wrong, scored / 10) << "more than 10 % wrong";
}

}  // namespace
