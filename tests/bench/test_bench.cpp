// dfscan bench: the statistics it reports, and one real run on the CPU. No timing is asserted: the
// figures themselves belong to benchmark runs, not to tests.
#include <gtest/gtest.h>

#include "dfscan/bench.hpp"
#include "dfscan/nn/shortcuts.hpp"
#include "dfscan/status.hpp"

namespace {

using dfscan::bench::BenchOptions;

TEST(BenchStatistics, MedianAndQuantilesInterpolateLikeNumpy) {
  EXPECT_DOUBLE_EQ(dfscan::bench::median({3, 1, 2}), 2.0);
  EXPECT_DOUBLE_EQ(dfscan::bench::median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(dfscan::bench::median({}), 0.0);
  // numpy.quantile([1, 2, 3, 4, 10], [0.9, 0.99]) == [7.6, 9.76]
  EXPECT_NEAR(dfscan::bench::quantile({10, 1, 2, 3, 4}, 0.9), 7.6, 1e-12);
  EXPECT_NEAR(dfscan::bench::quantile({10, 1, 2, 3, 4}, 0.99), 9.76, 1e-12);
  EXPECT_DOUBLE_EQ(dfscan::bench::quantile({5}, 0.99), 5.0);
}

BenchOptions tiny_npr() {
  BenchOptions o;
  o.arch = "npr";
  o.arch_config = {{"layers", {1, 1}}};
  o.device = "cpu";
  o.input_size = 32;
  o.batch_sizes = {1, 2};
  o.warmup = 1;
  o.iters = 2;
  o.repeats = 3;
  return o;
}

TEST(Bench, MeasuresInferenceAndTrainingOnTheCpu) {
  auto o = tiny_npr();
  o.modes = {"infer", "train"};
  int seen = 0;
  const auto rows = dfscan::bench::run(o, [&](const dfscan::bench::BenchRow&) { ++seen; });
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(seen, 4);
  for (const auto& r : rows) {
    EXPECT_EQ(r.status, "ok") << r.mode << " batch " << r.batch;
    EXPECT_EQ(r.device, "cpu");
    EXPECT_EQ(r.input_size, 32);
    ASSERT_EQ(r.repeat_images_per_s.size(), 3u);
    EXPECT_GT(r.images_per_s, 0.0);
    EXPECT_LE(r.latency_ms_p50, r.latency_ms_p90);
    EXPECT_LE(r.latency_ms_p90, r.latency_ms_p99);
    const auto j = dfscan::bench::to_json(r);
    EXPECT_TRUE(j.contains("images_per_s"));
    EXPECT_EQ(j["latency_ms"].size(), 3u);
  }
  EXPECT_EQ(rows[0].mode, "infer");
  EXPECT_EQ(rows[3].mode, "train");
}

// --profile-kernels: each row keeps its N longest entries (on the CPU, aten operators), longest
// first, with per-batch call counts; NPR's forward runs conv2d every batch.
TEST(Bench, ProfilesEachRowsLongestOperators) {
  auto o = tiny_npr();
  o.batch_sizes = {2};
  o.modes = {"infer", "train"};
  o.profile_kernels = 8;
  const auto rows = dfscan::bench::run(o);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    ASSERT_EQ(r.status, "ok");
    ASSERT_FALSE(r.kernels.empty()) << r.mode;
    EXPECT_LE(r.kernels.size(), 8u);
    for (size_t i = 1; i < r.kernels.size(); ++i)
      EXPECT_GE(r.kernels[i - 1].ms_per_step, r.kernels[i].ms_per_step);
    bool conv = false;
    for (const auto& k : r.kernels) {
      EXPECT_EQ(k.name.rfind("aten::", 0), 0u) << k.name;
      EXPECT_GT(k.calls_per_step, 0.0);
      conv = conv || k.name == "aten::conv2d" || k.name == "aten::convolution";
    }
    EXPECT_TRUE(conv) << r.mode << ": the convolutions are NPR's longest operators";
    EXPECT_EQ(dfscan::bench::to_json(r)["kernels"].size(), r.kernels.size());
  }
  o.profile_kernels = 0;
  EXPECT_TRUE(dfscan::bench::run(o)[0].kernels.empty());
}

// --min-repeat-ms: a row whose --iters batches would be over in less time runs more of them per
// repeat and says how many; without it, exactly --iters.
TEST(Bench, FastRowsRunLongerRepeats) {
  auto o = tiny_npr();
  o.batch_sizes = {1};
  o.iters = 1;
  auto rows = dfscan::bench::run(o);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].iters, 1);
  EXPECT_EQ(dfscan::bench::to_json(rows[0])["iters"], 1);

  o.min_repeat_ms = 200;  // a tiny NPR batch of one 32x32 image takes a few milliseconds at most
  rows = dfscan::bench::run(o);
  ASSERT_EQ(rows[0].status, "ok");
  EXPECT_GT(rows[0].iters, 1);
  EXPECT_EQ(dfscan::bench::to_json(rows[0])["iters"], rows[0].iters);

  o.min_repeat_ms = -1;
  EXPECT_THROW(dfscan::bench::run(o), dfscan::Error);
}

TEST(Bench, ReferenceOpsRowsSayTheyRanWithoutShortcuts) {
  auto o = tiny_npr();
  o.batch_sizes = {1};
  o.reference_ops = true;
  const auto rows = dfscan::bench::run(o);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].status, "ok");
  EXPECT_TRUE(rows[0].reference_ops);
  EXPECT_EQ(dfscan::bench::to_json(rows[0])["reference_ops"], true);
  EXPECT_TRUE(dfscan::nn::shortcuts_enabled()) << "the switch is restored after the run";
  o.reference_ops = false;
  EXPECT_EQ(dfscan::bench::to_json(dfscan::bench::run(o)[0])["reference_ops"], false);
}

TEST(Bench, UnsupportedCombinationsAreSkippedWithAReasonNotDropped) {
  auto o = tiny_npr();
  o.batch_sizes = {1};
  o.dtypes = {"fp32", "bf16"};
  o.cuda_graphs = {false, true};
  const auto rows = dfscan::bench::run(o);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].status, "ok");
  EXPECT_NE(rows[1].status.find("CUDA"), std::string::npos) << rows[1].status;         // graph on the CPU
  EXPECT_NE(rows[2].status.rfind("skipped", 0), std::string::npos) << rows[2].status;  // bf16 on the CPU
  EXPECT_FALSE(dfscan::bench::to_json(rows[2]).contains("images_per_s"));
}

// The inference stage fed by the synthetic crop source. The CPU has no pinned memory, so it gets
// the pageable rows only, and CUDA graphs (fixed inputs) do not apply.
TEST(Bench, PipelineModeRunsTheInferenceStageOnTheCpu) {
  auto o = tiny_npr();
  o.modes = {"pipeline"};
  o.workers = 2;
  o.pinned = {false, true};
  o.cuda_graphs = {false, true};
  const auto rows = dfscan::bench::run(o);
  ASSERT_EQ(rows.size(), 4u);  // 2 graph settings x 1 pinned setting x 2 batch sizes
  for (const auto& r : rows) {
    EXPECT_EQ(r.mode, "pipeline");
    EXPECT_FALSE(r.pinned);
    EXPECT_EQ(dfscan::bench::to_json(r)["pinned"], false);
    if (r.cuda_graph) {
      EXPECT_NE(r.status.find("skipped"), std::string::npos) << r.status;
      continue;
    }
    EXPECT_EQ(r.status, "ok") << r.status;
    ASSERT_EQ(r.repeat_images_per_s.size(), 3u);
    EXPECT_GT(r.images_per_s, 0.0);
  }
  o.pinned.clear();
  EXPECT_THROW(dfscan::bench::run(o), dfscan::Error);
}

TEST(Bench, RejectsBadOptionsBeforeRunning) {
  auto o = tiny_npr();
  o.dtypes = {"int8"};
  EXPECT_THROW(dfscan::bench::run(o), dfscan::Error);
  o = tiny_npr();
  o.modes = {"serve"};
  EXPECT_THROW(dfscan::bench::run(o), dfscan::Error);
  o = tiny_npr();
  o.arch.clear();
  EXPECT_THROW(dfscan::bench::run(o), dfscan::Error);
  o = tiny_npr();
  o.arch_config = "huge";
  EXPECT_THROW(dfscan::bench::run(o), dfscan::Error);
}

}  // namespace
