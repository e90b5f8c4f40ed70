#pragma once
// Option checks with messages a user can act on, so that a mistyped value is a usage error (64)
// before any work. Numbers: CLI11 2.1's PositiveNumber and NonNegativeNumber report their range up
// to DBL_MAX ("not in range 0.000000 to 17976931…").
#include <CLI/CLI.hpp>
#include <cmath>
#include <string>

namespace dfscan::cli {

// "" when `value` is a number in range, else what is wrong with it.
inline std::string check_number(const std::string& value, bool zero_allowed) {
  double x = 0;
  if (!CLI::detail::lexical_cast(value, x) || std::isnan(x)) return "'" + value + "' is not a number";
  if (x < 0 || (x == 0 && !zero_allowed))
    return std::string("must be ") + (zero_allowed ? ">= 0" : "> 0") + ", not " + value;
  return {};
}

inline const CLI::Validator kPositive{[](std::string& v) { return check_number(v, false); }, "POSITIVE"};
inline const CLI::Validator kNonNegative{[](std::string& v) { return check_number(v, true); }, "NONNEGATIVE"};

// The spelling of a --device value; whether that device exists is known only once LibTorch runs.
inline std::string check_device(const std::string& value) {
  if (value == "auto" || value == "cpu" || value == "cuda") return {};
  const std::string digits = value.rfind("cuda:", 0) == 0 ? value.substr(5) : "";
  if (!digits.empty() && digits.size() <= 3 && digits.find_first_not_of("0123456789") == std::string::npos)
    return {};
  return "'" + value + "' is not auto, cpu, cuda or cuda:N";
}
inline const CLI::Validator kDevice{[](std::string& v) { return check_device(v); }, "DEVICE"};

}  // namespace dfscan::cli
