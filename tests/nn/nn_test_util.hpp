#pragma once
// Helpers shared by the nn tests: fixture paths, shape JSON, tensor comparison.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "dfscan/nn/infer_config.hpp"

namespace dfscan::nn::test {

inline std::filesystem::path parity_dir() {
  return std::filesystem::path(DFSCAN_SHARED_DIR) / "parity";
}

// Skips the calling test when the shared fixtures are not there.
#define DFSCAN_NEED_FIXTURE(path)                                                     \
  do {                                                                                \
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture absent: " << (path); \
  } while (0)

inline ShapeMap read_shapes_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  const auto json = nlohmann::json::parse(in);
  ShapeMap shapes;
  for (const auto& [key, value] : json.items()) shapes[key] = value.get<std::vector<int64_t>>();
  return shapes;
}

// Names present in one map only, and names whose shapes differ; empty when equal.
inline std::string describe_difference(const ShapeMap& expected, const ShapeMap& actual) {
  std::string out;
  int shown = 0;
  auto note = [&](const std::string& line) {
    if (shown++ < 20) out += line + "\n";
  };
  for (const auto& [key, shape] : expected) {
    auto it = actual.find(key);
    if (it == actual.end())
      note("missing: " + key);
    else if (it->second != shape)
      note("shape differs: " + key);
  }
  for (const auto& [key, shape] : actual)
    if (!expected.count(key)) note("unexpected: " + key);
  if (shown > 20) out += std::to_string(shown - 20) + " more\n";
  return out;
}

// Parameters counted once even when a module is registered under two names (the shared Swin).
inline int64_t unique_parameter_count(const torch::nn::Module& module) {
  std::set<const void*> seen;
  int64_t total = 0;
  for (const auto& p : module.parameters())
    if (seen.insert(p.data_ptr()).second) total += p.numel();
  return total;
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return std::numeric_limits<double>::infinity();
  return (a.to(torch::kCPU, torch::kDouble) - b.to(torch::kCPU, torch::kDouble)).abs().max().item<double>();
}

}  // namespace dfscan::nn::test
