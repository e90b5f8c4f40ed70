// The progress line's text: counts, rate and time left, cut to the terminal's width.
#include <gtest/gtest.h>

#include "progress.hpp"

using dfscan::cli::ProgressLine;

TEST(ProgressLine, CountsThenRateAndTimeLeft) {
  // Too early for a rate: the first file carries the warm-up.
  EXPECT_EQ(ProgressLine::format(1, 40, 5.0, "a.mp4", 80), "[1/40]  a.mp4");
  EXPECT_EQ(ProgressLine::format(4, 40, 0.5, "", 80), "[4/40]");
  // 10 files in 4 s: 2.5 files/s, 30 left take 12 s.
  EXPECT_EQ(ProgressLine::format(10, 40, 4.0, "a.mp4", 80), "[10/40] 2.5 files/s, 12s left  a.mp4");
  EXPECT_EQ(ProgressLine::format(40, 4000, 16.0, "", 80), "[40/4000] 2.5 files/s, 26m24s left");
  EXPECT_EQ(ProgressLine::format(100, 100000, 10.0, "", 80), "[100/100000] 10 files/s, 2h46m left");
  EXPECT_EQ(ProgressLine::format(40, 40, 16.0, "", 80), "[40/40] 2.5 files/s");
}

TEST(ProgressLine, ALongPathKeepsItsEndWithinTheWidth) {
  const std::string path = "/data/very/deep/folder/structure/of/a/dataset/clip_000123.mp4";
  EXPECT_EQ(ProgressLine::format(1, 9, 0.0, path, 30), "[1/9]  ...aset/clip_000123.mp4");
  // A terminal too narrow for any path shows the counts alone, cut if need be.
  EXPECT_EQ(ProgressLine::format(1, 9, 0.0, path, 6), "[1/9]");
  EXPECT_EQ(ProgressLine::format(100, 900, 0.0, path, 4), "[100");
}
