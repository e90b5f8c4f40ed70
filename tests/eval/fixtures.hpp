#pragma once
// Loads tests/data/metrics/cases.json, written by scripts/gen-metric-fixtures.py.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace dfscan::eval::testing {

inline std::string metric_fixture_dir() {
  return DFSCAN_SOURCE_DIR "/tests/data/metrics";
}

inline nlohmann::json load_cases() {
  std::ifstream in(metric_fixture_dir() + "/cases.json");
  EXPECT_TRUE(in) << "missing fixture; run scripts/gen-metric-fixtures.py";
  return nlohmann::json::parse(in)["cases"];
}

inline std::optional<double> optional_number(const nlohmann::json& v) {
  if (v.is_null()) return std::nullopt;
  return v.get<double>();
}

}  // namespace dfscan::eval::testing
