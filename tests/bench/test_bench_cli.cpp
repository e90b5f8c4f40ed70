// `dfscan bench` end to end: the built binary on a shipped model, CPU only.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "../common/scoped_temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
const std::string kBinary = DFSCAN_BINARY_DIR "/apps/dfscan/dfscan";
const std::string kNprModel = DFSCAN_SOURCE_DIR "/models/npr-proxy.safetensors";

struct Outcome {
  int exit_code = -1;
  std::string out;
};

Outcome dfscan(const dfscan::test::ScopedTempDir& dir, const std::string& args) {
  const auto out = dir / "stdout";
  const std::string cmd = kBinary + " " + args + " >" + out.string() + " 2>" + (dir / "stderr").string();
  const int status = std::system(cmd.c_str());
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

class BenchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kBinary)) GTEST_SKIP() << "build the dfscan target first";
    if (!fs::exists(kNprModel)) GTEST_SKIP() << "no shipped NPR model";
  }
  dfscan::test::ScopedTempDir dir_{"bench-cli"};
};

TEST_F(BenchCli, JsonLinesHaveOneRowPerCombination) {
  const auto r = dfscan(dir_, "bench -m " + kNprModel +
                                  " --device cpu --threads 1 -b 1,2 --mode infer,train --input-size 64"
                                  " --warmup 0 --iters 1 --repeats 2 -f jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::istringstream lines(r.out);
  std::string line;
  int rows = 0;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["status"], "ok");
    EXPECT_EQ(j["model"], "npr-proxy");
    EXPECT_EQ(j["input_size"], 64);
    EXPECT_GT(j["images_per_s"].get<double>(), 0.0);
    EXPECT_EQ(j["repeat_images_per_s"].size(), 2u);
    ++rows;
  }
  EXPECT_EQ(rows, 4);
}

TEST_F(BenchCli, TextTableNamesItsColumnsAndSkippedRows) {
  const auto r = dfscan(dir_, "bench -m " + kNprModel +
                                  " --device cpu -b 1 --dtype fp32,bf16 --input-size 32 --warmup 0 --iters 1"
                                  " --repeats 1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("img/s"), std::string::npos);
  EXPECT_NE(r.out.find("skipped"), std::string::npos) << r.out;  // bf16 needs CUDA
}

TEST_F(BenchCli, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(dfscan(dir_, "bench -m " + kNprModel + " --dtype int8").exit_code, 64);
  EXPECT_EQ(dfscan(dir_, "bench -m " + kNprModel + " --arch npr").exit_code, 64);
  EXPECT_EQ(dfscan(dir_, "bench --device cpu").exit_code, 2);  // neither a model nor an architecture
}

}  // namespace
