#pragma once
// Tests of refusals: the call throws a dfscan::Error with the expected status and a one-line message.
#include <gtest/gtest.h>

#include <string>

#include "dfscan/status.hpp"

namespace dfscan::test {

// Runs `f`, expecting a dfscan::Error with `status` whose one-line message contains `needle`.
template <typename F>
void expect_error(F&& f, const std::string& needle, Status status) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing: " << needle;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_EQ(e.status(), status) << what;
  }
}

}  // namespace dfscan::test
