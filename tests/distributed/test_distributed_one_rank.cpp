// `dfscan train --distributed on` as a world of one: the process group is joined (Gloo on the CPU,
// NCCL on CUDA), every gradient goes through an all-reduce of one rank, and the run ends where the
// same training without a group ends. On a one-GPU box this is the NCCL smoke test (issue: CUDA).
// Built twice: DFSCAN_ONE_RANK_DEVICE "cpu" (label distributed) and "cuda" (label gpu), each with a
// suite name of its own (DFSCAN_ONE_RANK_SUITE) so that ctest lists both.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <cstdio>
#include <string>

#include "../common/scoped_temp_dir.hpp"
#include "train_runs.hpp"

namespace fs = std::filesystem;
using namespace dfscan::test;

TEST(DFSCAN_ONE_RANK_SUITE, GroupOfOneMatchesNoGroup) {
  const std::string device = DFSCAN_ONE_RANK_DEVICE;
  const std::string backend = device == "cuda" ? "nccl" : "gloo";
  if (device == "cuda" && !torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (device == "cuda" && !DFSCAN_ONE_RANK_NCCL) GTEST_SKIP() << "this build has no NCCL";
  if (!fs::exists(kInit)) GTEST_SKIP() << "no " << kInit;
  ScopedTempDir dir("distributed-one-rank");
  const auto& d = dir.path();
  const auto csv = write_train_csv(d);
  const std::string common = " --device " + device;
  ASSERT_EQ(
      shell(quote(kApp) + " " + train_args(csv, d, "alone") + common + " --distributed off", d, "alone"), 0)
      << slurp(d / "alone.err");
  const std::string launch = "env RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
                             std::to_string(free_port()) + " ";
  // -v: the join is logged at info level.
  ASSERT_EQ(shell(launch + quote(kApp) + " -v " + train_args(csv, d, "group") + common + " --distributed on",
                  d, "group"),
            0)
      << slurp(d / "group.err");
  const auto log = slurp(d / "group.err");
  EXPECT_NE(log.find("distributed: rank 0 of 1"), std::string::npos) << log;
  EXPECT_NE(log.find(backend), std::string::npos) << log;

  const auto alone = step_losses(d / "alone.jsonl"), group = step_losses(d / "group.jsonl");
  ASSERT_EQ(alone.size(), 5u);
  ASSERT_EQ(group.size(), 5u);
  for (std::size_t i = 0; i < alone.size(); ++i) EXPECT_NEAR(group[i], alone[i], 1e-5) << "step " << i;
  const double moved = max_abs_diff(kInit, d / "alone.safetensors");
  const double diff = max_abs_diff(d / "alone.safetensors", d / "group.safetensors");
  std::printf("[%s %s] max |param change| %.3e; max |group of one - no group| %.3e\n", device.c_str(),
              backend.c_str(), moved, diff);
  EXPECT_GT(moved, 1e-3);
  EXPECT_LE(diff, 1e-5);
}

// Without a launcher's variables, "on" is an error that says what is missing, and nothing is written.
TEST(DFSCAN_ONE_RANK_SUITE, OnWithoutALauncherIsAnError) {
  if (std::string(DFSCAN_ONE_RANK_DEVICE) != "cpu") GTEST_SKIP() << "the cpu build checks this";
  ScopedTempDir dir("distributed-on-alone");
  const auto& d = dir.path();
  const auto csv = write_train_csv(d);
  const std::string unset = "env -u RANK -u WORLD_SIZE -u SLURM_PROCID -u SLURM_NTASKS ";
  EXPECT_EQ(
      shell(unset + quote(kApp) + " " + train_args(csv, d, "on") + " --device cpu --distributed on", d, "on"),
      2);
  EXPECT_NE(slurp(d / "on.err").find("launcher"), std::string::npos) << slurp(d / "on.err");
  EXPECT_FALSE(fs::exists(d / "on.safetensors"));
}
