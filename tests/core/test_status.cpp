#include <gtest/gtest.h>

#include "dfscan/status.hpp"

using dfscan::Status;

TEST(Status, NamesRoundTrip) {
  for (auto s : {Status::ok, Status::no_face, Status::not_scored, Status::empty, Status::truncated,
                 Status::decode_error, Status::unsupported, Status::too_large, Status::not_found,
                 Status::permission_denied, Status::error}) {
    auto back = dfscan::status_from_string(dfscan::to_string(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(dfscan::status_from_string("fine").has_value());
}

TEST(Status, FailuresAreThoseThatExitTwo) {
  EXPECT_FALSE(dfscan::is_failure(Status::ok));
  EXPECT_FALSE(dfscan::is_failure(Status::no_face));
  EXPECT_FALSE(dfscan::is_failure(Status::not_scored));
  EXPECT_TRUE(dfscan::is_failure(Status::truncated));
  EXPECT_TRUE(dfscan::is_failure(Status::not_found));
}

TEST(Status, OneLineDropsStackTraces) {
  EXPECT_EQ(dfscan::one_line("bad shape\n  at foo\nException raised from bar at x.cpp:1\nframe #0"),
            "bad shape at foo");
  dfscan::Error e(Status::decode_error, "line one\nline two");
  EXPECT_STREQ(e.what(), "line one line two");
  EXPECT_EQ(e.status(), Status::decode_error);
}
