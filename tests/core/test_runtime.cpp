#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <thread>

#include "dfscan/runtime.hpp"
#include "dfscan/status.hpp"

TEST(Runtime, ParsesDevices) {
  EXPECT_EQ(dfscan::parse_device("cpu").type(), c10::kCPU);
  auto autodev = dfscan::parse_device("auto");
  EXPECT_EQ(autodev.type(), torch::cuda::is_available() ? c10::kCUDA : c10::kCPU);
  EXPECT_THROW(dfscan::parse_device("gpu"), dfscan::Error);
  EXPECT_THROW(dfscan::parse_device("cuda:"), dfscan::Error);
  EXPECT_THROW(dfscan::parse_device("cuda:x"), dfscan::Error);
  if (!torch::cuda::is_available()) {
    EXPECT_THROW(dfscan::parse_device("cuda:0"), dfscan::Error);
  }
}

TEST(Runtime, ThreadsDefaultToEveryCore) {
  dfscan::configure_threads(0);
  EXPECT_EQ(dfscan::intra_op_threads(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  dfscan::configure_threads(1);
  EXPECT_EQ(dfscan::intra_op_threads(), 1);
}
