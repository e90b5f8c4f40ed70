// The numeric option checks every subcommand uses (apps/dfscan/checks.hpp): which values pass, and
// a message that names the rule and the value instead of CLI11's range up to DBL_MAX.
#include <gtest/gtest.h>

#include <string>

#include "checks.hpp"

using dfscan::cli::check_number;

TEST(OptionChecks, PositiveRefusesZeroNegativeAndNonNumbers) {
  EXPECT_EQ(check_number("1", false), "");
  EXPECT_EQ(check_number("0.001", false), "");
  EXPECT_EQ(check_number("1e3", false), "");
  EXPECT_EQ(check_number("0", false), "must be > 0, not 0");
  EXPECT_EQ(check_number("-2", false), "must be > 0, not -2");
  EXPECT_EQ(check_number("abc", false), "'abc' is not a number");
  EXPECT_EQ(check_number("nan", false), "'nan' is not a number");
}

TEST(OptionChecks, NonNegativeTakesZero) {
  EXPECT_EQ(check_number("0", true), "");
  EXPECT_EQ(check_number("7", true), "");
  EXPECT_EQ(check_number("-0.5", true), "must be >= 0, not -0.5");
  EXPECT_EQ(check_number("", true), "'' is not a number");
}
