#include <gtest/gtest.h>
#include <sched.h>
#include <torch/cuda.h>

#include "dfscan/cpus.hpp"
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

TEST(Runtime, ThreadsDefaultToTheCpusThisProcessMayUse) {
  dfscan::configure_threads(0);
  EXPECT_EQ(dfscan::intra_op_threads(), dfscan::usable_cpus());
  dfscan::configure_threads(1);
  EXPECT_EQ(dfscan::intra_op_threads(), 1);
  // Pinned to one CPU (as taskset or a Slurm cpuset does), the default is one thread, not the
  // machine's count.
  cpu_set_t all, one;
  ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  dfscan::configure_threads(0);
  const int pinned = dfscan::intra_op_threads();
  ASSERT_EQ(sched_setaffinity(0, sizeof all, &all), 0);
  EXPECT_EQ(pinned, 1);
  EXPECT_EQ(dfscan::usable_cpus(), CPU_COUNT(&all));
}
