// Bootstrap intervals: the O(n) resample path must equal the metrics on a materialized resample,
// and the intervals must be reproducible and honest about skipped resamples.
#include <gtest/gtest.h>

#include <random>

#include "dfscan/metrics.hpp"
#include "eval/ranking.hpp"
#include "fixtures.hpp"

namespace dfscan::eval {
namespace {

TEST(Bootstrap, CountedResampleEqualsMaterializedResample) {
  std::mt19937 rng(7);
  for (const auto& c : testing::load_cases()) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto labels = c["labels"].get<std::vector<int>>();
    const auto scores = c["scores"].get<std::vector<double>>();
    if (labels.empty()) continue;
    const auto ranking = detail::rank_samples(labels, scores);
    for (int trial = 0; trial < 5; ++trial) {
      detail::Counts counts(labels.size(), 0);
      std::uniform_int_distribution<std::size_t> pick(0, labels.size() - 1);
      for (std::size_t k = 0; k < labels.size(); ++k) ++counts[pick(rng)];
      std::vector<int> resampled_labels;
      std::vector<double> resampled_scores;
      // Materialize in a shuffled order: the metrics must not depend on input order.
      std::vector<std::size_t> order(labels.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      for (auto i : order)
        for (std::uint32_t copy = 0; copy < counts[i]; ++copy) {
          resampled_labels.push_back(labels[i]);
          resampled_scores.push_back(scores[i]);
        }
      const auto auc_fast = detail::weighted_roc_auc(ranking, &counts);
      const auto auc_slow = roc_auc(resampled_labels, resampled_scores);
      ASSERT_EQ(auc_fast.defined(), auc_slow.defined());
      if (auc_fast.defined()) {
        EXPECT_DOUBLE_EQ(*auc_fast.value, *auc_slow.value);
      }
      const auto ap_fast = detail::weighted_average_precision(ranking, &counts);
      const auto ap_slow = average_precision(resampled_labels, resampled_scores);
      ASSERT_EQ(ap_fast.defined(), ap_slow.defined());
      if (ap_fast.defined()) {
        EXPECT_DOUBLE_EQ(*ap_fast.value, *ap_slow.value);
      }
      const auto eer_fast = detail::weighted_equal_error_rate(ranking, &counts);
      const auto eer_slow = equal_error_rate(resampled_labels, resampled_scores);
      ASSERT_EQ(eer_fast.eer.defined(), eer_slow.eer.defined());
      if (eer_fast.eer.defined()) {
        EXPECT_EQ(*eer_fast.eer.value, *eer_slow.eer.value);
        EXPECT_EQ(*eer_fast.threshold.value, *eer_slow.threshold.value);
      }
    }
  }
}

struct Data {
  std::vector<int> labels;
  std::vector<double> scores;
};

Data fixture_case(const std::string& name) {
  for (const auto& c : testing::load_cases())
    if (c["name"] == name)
      return {c["labels"].get<std::vector<int>>(), c["scores"].get<std::vector<double>>()};
  ADD_FAILURE() << "no fixture case " << name;
  return {};
}

TEST(Bootstrap, SeededAndReproducible) {
  const auto d = fixture_case("ties_n200_d1");
  EvalOptions options;
  options.bootstrap.resamples = 300;
  options.bootstrap.seed = 42;
  const auto a = bootstrap_intervals(d.labels, d.scores, options);
  const auto b = bootstrap_intervals(d.labels, d.scores, options);
  options.bootstrap.seed = 43;
  const auto other = bootstrap_intervals(d.labels, d.scores, options);
  for (const char* key : {"auc", "ap", "eer", "accuracy"}) {
    SCOPED_TRACE(key);
    ASSERT_TRUE(a.at(key).low.defined());
    EXPECT_EQ(*a.at(key).low.value, *b.at(key).low.value);
    EXPECT_EQ(*a.at(key).high.value, *b.at(key).high.value);
    EXPECT_EQ(a.at(key).used, 300);
    EXPECT_EQ(a.at(key).skipped, 0);
  }
  EXPECT_NE(*a.at("auc").low.value, *other.at("auc").low.value);
}

TEST(Bootstrap, IntervalsBracketThePointEstimate) {
  const auto d = fixture_case("ties_n1000_d2");
  EvalOptions options;
  options.bootstrap.resamples = 400;
  const auto r = evaluate(d.labels, d.scores, options);
  const std::map<std::string, Metric> point{
      {"auc", r.auc}, {"ap", r.ap}, {"eer", r.eer}, {"accuracy", r.accuracy}};
  for (const auto& [key, value] : point) {
    SCOPED_TRACE(key);
    const auto& ci = r.intervals.at(key);
    ASSERT_TRUE(ci.low.defined() && ci.high.defined());
    EXPECT_LT(*ci.low.value, *ci.high.value);
    EXPECT_LE(*ci.low.value, *value.value);
    EXPECT_GE(*ci.high.value, *value.value);
    EXPECT_LT(*ci.high.value - *ci.low.value, 0.2);  // n = 1000: a few points wide, not the whole range
  }
}

TEST(Bootstrap, UnstratifiedSkipsAndCountsOneClassResamples) {
  // One fake among four: about a third of plain resamples miss it entirely.
  const std::vector<int> labels{1, 0, 0, 0};
  const std::vector<double> scores{0.9, 0.2, 0.4, 0.6};
  EvalOptions options;
  options.bootstrap.resamples = 500;
  options.bootstrap.stratified = false;
  const auto plain = bootstrap_intervals(labels, scores, options);
  const auto& auc = plain.at("auc");
  EXPECT_EQ(auc.used + auc.skipped, 500);
  EXPECT_GT(auc.skipped, 100);
  EXPECT_LT(auc.skipped, 250);
  EXPECT_EQ(plain.at("accuracy").skipped, 0);
  options.bootstrap.stratified = true;
  const auto stratified = bootstrap_intervals(labels, scores, options);
  EXPECT_EQ(stratified.at("auc").skipped, 0);
  EXPECT_EQ(*stratified.at("auc").low.value, 1.0);  // every stratified resample is perfectly separated
}

TEST(Bootstrap, OneClassDataHasUndefinedIntervals) {
  EvalOptions options;
  options.bootstrap.resamples = 50;
  const auto ci = bootstrap_intervals({1, 1}, {0.3, 0.7}, options);
  EXPECT_FALSE(ci.at("auc").low.defined());
  EXPECT_EQ(ci.at("auc").skipped, 50);
  EXPECT_NE(ci.at("auc").low.reason.find("only one class"), std::string::npos) << ci.at("auc").low.reason;
  EXPECT_TRUE(ci.at("accuracy").low.defined());
}

}  // namespace
}  // namespace dfscan::eval
