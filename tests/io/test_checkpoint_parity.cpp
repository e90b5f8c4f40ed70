// Reads every parity checkpoint with dfscan's own reader and checks it against state_dict_shapes.json.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dfscan/checkpoint.hpp"

namespace fs = std::filesystem;
using dfscan::io::read_pth;

namespace {

fs::path parity_dir() {
  return fs::path(DFSCAN_SHARED_DIR) / "parity";
}

std::vector<fs::path> cases() {
  std::vector<fs::path> out;
  if (!fs::is_directory(parity_dir())) return out;
  for (const auto& entry : fs::directory_iterator(parity_dir()))
    if (entry.is_directory() && fs::exists(entry.path() / "weights.pth")) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(CheckpointParity, WeightsMatchShapeListsInOrder) {
  auto dirs = cases();
  if (dirs.empty()) GTEST_SKIP() << "no parity fixtures under " << parity_dir();
  for (const auto& dir : dirs) {
    SCOPED_TRACE(dir.filename().string());
    auto state = read_pth(dir / "weights.pth");
    std::ifstream in(dir / "state_dict_shapes.json");
    ASSERT_TRUE(in);
    // ordered_json keeps the file's key order, which is the state dict's order.
    auto shapes = nlohmann::ordered_json::parse(in);
    ASSERT_EQ(state.size(), shapes.size());
    size_t i = 0;
    for (const auto& [key, shape] : shapes.items()) {
      ASSERT_EQ(state.keys()[i], key);
      const at::Tensor& t = state.at(key);
      EXPECT_EQ(t.sizes().vec(), shape.get<std::vector<int64_t>>()) << key;
      EXPECT_EQ(t.device().type(), at::kCPU);
      ++i;
    }
  }
}

TEST(CheckpointParity, IoFilesHoldInputAndOutput) {
  auto dirs = cases();
  if (dirs.empty()) GTEST_SKIP() << "no parity fixtures under " << parity_dir();
  size_t files = 0;
  for (const auto& dir : dirs) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      auto name = entry.path().filename().string();
      if (name.rfind("io", 0) != 0 || entry.path().extension() != ".pth") continue;
      SCOPED_TRACE(entry.path().string());
      auto io = read_pth(entry.path());
      ASSERT_EQ(io.keys(), (std::vector<std::string>{"input", "output"}));
      const auto& x = io.at("input");
      const auto& y = io.at("output");
      EXPECT_EQ(x.scalar_type(), at::kFloat);
      EXPECT_EQ(x.size(0), y.size(0));
      EXPECT_TRUE(x.isfinite().all().item<bool>());
      EXPECT_TRUE(y.isfinite().all().item<bool>());
      ++files;
    }
  }
  EXPECT_GE(files, dirs.size());
}

TEST(CheckpointParity, NprIoShapes) {
  auto dir = parity_dir() / "npr_resnet50";
  if (!fs::exists(dir / "io_256x200.pth")) GTEST_SKIP() << "no NPR parity fixture";
  auto io = read_pth(dir / "io_256x200.pth");
  EXPECT_EQ(io.at("input").sizes().vec(), (std::vector<int64_t>{1, 3, 256, 200}));
  EXPECT_EQ(io.at("output").sizes().vec(), (std::vector<int64_t>{1, 1}));
}
