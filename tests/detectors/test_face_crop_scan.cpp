// `dfscan models import` then `dfscan scan --faces none` on 224x224 face-crop PNGs, through the real
// binary: the logits in the records equal the reference network's on the same normalised tensors
// (data/face_crops/reference.json, made by make_face_crop_fixture.py from the parity weights).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "../common/scoped_temp_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
const std::string kBin = DFSCAN_BINARY_DIR "/apps/dfscan/dfscan";
const fs::path kWeights = fs::path(DFSCAN_SHARED_DIR) / "parity/genconvit_ed_atto/weights.pth";
const fs::path kCrops = fs::path(DFSCAN_TEST_DATA_DIR) / "face_crops";

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// stdout of `command`; its exit status in *status.
std::string capture(const std::string& command, int* status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) {
    *status = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int raw = ::pclose(pipe);
  *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

// The logits of a record's one detector, as a flat list ([[a, b]] for a single input, or [a, b]).
std::vector<double> flat_logits(const json& record) {
  std::vector<double> out;
  const auto& detectors = record.at("detectors");
  EXPECT_EQ(detectors.size(), 1u);
  if (detectors.empty()) return out;
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_array())
      for (const auto& x : j) walk(x);
    else
      out.push_back(j.get<double>());
  };
  walk(detectors[0].at("logits"));
  return out;
}

TEST(FaceCropScan, LogitsEqualTheReferenceOnTheSameTensors) {
  if (!fs::exists(kWeights)) GTEST_SKIP() << "fixture absent: " << kWeights;
  json reference;
  std::ifstream(kCrops / "reference.json") >> reference;
  ASSERT_FALSE(reference["logits"].empty());

  dfscan::test::ScopedTempDir tmp("facecrops");
  const auto model = tmp / "ed.safetensors";
  int status = 0;
  capture(quoted(kBin) + " models import --arch genconvit-ed " + quoted(kWeights.string()) + " -o " +
              quoted(model.string()) + " 2>&1",
          &status);
  ASSERT_EQ(status, 0) << "import failed";

  std::string command =
      quoted(kBin) + " scan --no-progress -f jsonl --faces none -m " + quoted(model.string());
  for (const auto& [png, logits] : reference["logits"].items())
    command += " " + quoted((kCrops / png).string());
  const auto out = capture(command, &status);
  // Exit 0 or 1 (something judged fake); every file must have been scanned.
  EXPECT_TRUE(status == 0 || status == 1) << "exit " << status << "\n" << out;

  std::istringstream lines(out);
  std::string line;
  size_t seen = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const auto record = json::parse(line);
    if (record.value("type", "") == "summary") continue;  // the run's closing line
    ASSERT_EQ(record.value("status", ""), "ok") << line;
    const auto name = fs::path(record.at("path").get<std::string>()).filename().string();
    ASSERT_TRUE(reference["logits"].contains(name)) << name;
    const auto expected = reference["logits"][name].get<std::vector<double>>();
    const auto actual = flat_logits(record);
    ASSERT_EQ(actual.size(), expected.size()) << line;
    double diff = 0;
    for (size_t i = 0; i < expected.size(); ++i) diff = std::max(diff, std::abs(actual[i] - expected[i]));
    std::printf("[parity] %s: max |logit - reference| %.3g\n", name.c_str(), diff);
    EXPECT_LE(diff, 1e-4) << name;
    ++seen;
  }
  EXPECT_EQ(seen, reference["logits"].size());
}

}  // namespace
