#pragma once
// Checks for numeric options, with messages a user can act on: CLI11 2.1's PositiveNumber and
// NonNegativeNumber report their range up to DBL_MAX ("not in range 0.000000 to 17976931…").
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

}  // namespace dfscan::cli
