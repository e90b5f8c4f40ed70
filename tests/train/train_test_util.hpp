#pragma once
// Shared pieces of the trainer tests: the tiny shard dataset and a tiny network.
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../common/scoped_temp_dir.hpp"
#include "dfscan/dataset.hpp"
#include "dfscan/train.hpp"

namespace dfscan::test {

inline std::filesystem::path tiny_shard() {
  return std::filesystem::path(DFSCAN_SOURCE_DIR) / "tests/data_adapters/data/tiny_shard.pth";
}

// 16 train, 8 valid, 8 test rows of the tiny shard (odd rows are fake), as a CSV in `dir`.
inline std::filesystem::path write_tiny_csv(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const auto csv = dir / "tiny.csv";
  std::ofstream out(csv);
  out << "path,label,split\n";
  for (int i = 0; i < 32; ++i)
    out << tiny_shard().string() << "#" << i << "," << (i % 2) << ","
        << (i < 16   ? "train"
            : i < 24 ? "valid"
                     : "test")
        << "\n";
  return csv;
}

// Deletes itself through remove_tree: see scoped_temp_dir.hpp for why never remove_all.
struct ScopedDir {
  std::filesystem::path path;
  explicit ScopedDir(const std::string& tag) {
    path =
        std::filesystem::temp_directory_path() / ("dfscan-train-" + tag + "-" + std::to_string(::getpid()));
    remove_tree(path);
    std::filesystem::create_directories(path);
  }
  ~ScopedDir() { remove_tree(path); }
};

inline train::TrainableModel tiny_model(uint64_t seed) {
  torch::manual_seed(seed);
  auto net = torch::nn::Sequential(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).padding(1)), torch::nn::ReLU(),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3).padding(1)), torch::nn::ReLU(),
      torch::nn::AdaptiveAvgPool2d(1), torch::nn::Flatten(), torch::nn::Linear(8, 1));
  train::TrainableModel m;
  m.net = net.ptr();
  m.forward = [net](const at::Tensor& x) mutable { return net->forward(x); };
  m.score.activation = "sigmoid";
  m.input.size = 16;
  return m;
}

}  // namespace dfscan::test
