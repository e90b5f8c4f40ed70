#pragma once
// Training runs through the real `dfscan train` for the distributed tests: a free port, the shell
// with captured output, a 16-row training CSV from the committed tensor shard, the shared options,
// the per-step losses of a JSONL log, and the largest difference between two model files.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../common/cli.hpp"
#include "dfscan/model_file.hpp"

namespace dfscan::test {

namespace fs = std::filesystem;
using nlohmann::json;

inline const fs::path kSource(DFSCAN_SOURCE_DIR);
inline const fs::path kApp = dfscan_binary();
inline const fs::path kInit = kSource / "models/genconvit-ed-atto.safetensors";

// A TCP port nobody listens on right now.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return 29500;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Runs `command` through the shell with stdout to DIR/TAG.out and stderr to DIR/TAG.err.
inline int shell(const std::string& command, const fs::path& dir, const std::string& tag) {
  const std::string cmd =
      command + " > " + quote(dir / (tag + ".out")) + " 2> " + quote(dir / (tag + ".err"));
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// 16 train rows of the committed tiny tensor shard (odd rows fake), and nothing to validate on, so
// the model written is the one after the last step.
inline fs::path write_train_csv(const fs::path& dir) {
  const auto shard = kSource / "tests/data_adapters/data/tiny_shard.pth";
  const auto csv = dir / "train.csv";
  std::ofstream out(csv);
  out << "path,label,split\n";
  for (int i = 0; i < 16; ++i) out << shard.string() << "#" << i << "," << (i % 2) << ",train\n";
  return csv;
}

inline std::string train_args(const fs::path& csv, const fs::path& dir, const std::string& tag) {
  return "train --init " + quote(kInit) + " --data " + quote(csv) +
         " --optimizer sgd --lr 0.01 --momentum 0.9 --batch 4 --max-steps 5 --epochs 5 --augment none"
         " --seed 11 --workers 1 --threads 1 --no-progress --checkpoint-dir " +
         quote(dir / (tag + ".ckpt")) + " --log " + quote(dir / (tag + ".jsonl")) + " -o " +
         quote(dir / (tag + ".safetensors"));
}

inline std::vector<double> step_losses(const fs::path& log) {
  std::vector<double> out;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    const auto j = json::parse(line);
    if (j["type"] == "step") out.push_back(j["loss"].get<double>());
  }
  return out;
}

// Largest |a - b| over every tensor of two model files with the same keys.
inline double max_abs_diff(const fs::path& a, const fs::path& b) {
  const auto fa = dfscan::io::read_model_file(a);
  const auto fb = dfscan::io::read_model_file(b);
  EXPECT_EQ(fa.tensors.keys(), fb.tensors.keys());
  double worst = 0.0;
  for (const auto& [key, ta] : fa.tensors) {
    const auto* tb = fb.tensors.find(key);
    if (tb == nullptr) continue;
    worst = std::max(worst, (ta.to(torch::kDouble) - tb->to(torch::kDouble)).abs().max().item<double>());
  }
  return worst;
}

}  // namespace dfscan::test
