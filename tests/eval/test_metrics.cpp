// Metrics against scikit-learn 1.2 and the ASVspoof EER algorithm (fixtures from
// scripts/gen-metric-fixtures.py), plus the properties the references do not cover.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <map>

#include "dfscan/metrics.hpp"
#include "dfscan/status.hpp"
#include "fixtures.hpp"

namespace dfscan::eval {
namespace {

using testing::load_cases;
using testing::optional_number;

// Largest |ours - reference| per metric over every fixture case; printed for the record.
std::map<std::string, double>& deviations() {
  static std::map<std::string, double> d;
  return d;
}

void expect_metric(const std::string& name, const Metric& got, const nlohmann::json& want, double tolerance) {
  const auto reference = optional_number(want);
  if (!reference) {
    EXPECT_FALSE(got.defined()) << name << " should be undefined but is " << got.value.value_or(0);
    EXPECT_FALSE(got.reason.empty()) << name << " is undefined without a reason";
    return;
  }
  ASSERT_TRUE(got.defined()) << name << " undefined: " << got.reason;
  const double deviation = std::abs(*got.value - *reference);
  EXPECT_LE(deviation, tolerance) << name << ": got " << *got.value << ", reference " << *reference;
  auto& worst = deviations()[name];
  worst = std::max(worst, deviation);
}

TEST(Metrics, MatchReferencesOnEveryFixtureCase) {
  const auto cases = load_cases();
  ASSERT_GE(cases.size(), 15u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto labels = c["labels"].get<std::vector<int>>();
    const auto scores = c["scores"].get<std::vector<double>>();
    const double threshold = c["threshold"].get<double>();
    const auto& want = c["expected"];

    expect_metric("auc", roc_auc(labels, scores), want["auc"], 1e-9);
    expect_metric("ap", average_precision(labels, scores), want["ap"], 1e-9);
    expect_metric("log_loss", log_loss(labels, scores), want["log_loss"], 1e-9);
    const auto eer = equal_error_rate(labels, scores);
    expect_metric("eer", eer.eer, want["eer"], 1e-12);
    expect_metric("eer_threshold", eer.threshold, want["eer_threshold"], 1e-12);

    const auto confusion = confusion_at(labels, scores, threshold);
    EXPECT_EQ(confusion.tp, want["confusion"]["tp"].get<std::size_t>());
    EXPECT_EQ(confusion.fp, want["confusion"]["fp"].get<std::size_t>());
    EXPECT_EQ(confusion.tn, want["confusion"]["tn"].get<std::size_t>());
    EXPECT_EQ(confusion.fn, want["confusion"]["fn"].get<std::size_t>());
    expect_metric("accuracy", accuracy(confusion), want["accuracy"], 1e-12);
    expect_metric("balanced_accuracy", balanced_accuracy(confusion), want["balanced_accuracy"], 1e-12);

    const auto tpr = tpr_at_fpr(labels, scores, c["max_fpr"].get<double>());
    expect_metric("tpr_at_fpr_1pct", tpr.tpr, want["tpr_at_fpr_1pct"], 1e-12);
    expect_metric("tpr_at_fpr_1pct_threshold", tpr.threshold, want["tpr_at_fpr_1pct_threshold"], 0.0);
  }
  for (const auto& [name, worst] : deviations())
    std::cout << "max |dfscan - reference| " << name << " = " << worst << "\n";
}

TEST(Metrics, EvaluateAgreesWithTheSingleMetricFunctions) {
  for (const auto& c : load_cases()) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto labels = c["labels"].get<std::vector<int>>();
    const auto scores = c["scores"].get<std::vector<double>>();
    EvalOptions options;
    options.threshold = c["threshold"].get<double>();
    options.bootstrap.resamples = 0;
    const auto r = evaluate(labels, scores, options);
    const auto& want = c["expected"];
    EXPECT_EQ(r.n, want["n"].get<std::size_t>());
    EXPECT_EQ(r.n_fake, want["n_fake"].get<std::size_t>());
    EXPECT_EQ(r.n_real, want["n_real"].get<std::size_t>());
    expect_metric("auc", r.auc, want["auc"], 1e-9);
    expect_metric("ap", r.ap, want["ap"], 1e-9);
    expect_metric("eer", r.eer, want["eer"], 1e-12);
    expect_metric("eer_threshold", r.eer_threshold, want["eer_threshold"], 1e-12);
    expect_metric("log_loss", r.log_loss, want["log_loss"], 1e-9);
    expect_metric("balanced_accuracy", r.balanced_accuracy, want["balanced_accuracy"], 1e-12);
    expect_metric("tpr_at_fpr_1pct", r.tpr_at_fpr, want["tpr_at_fpr_1pct"], 1e-12);
    EXPECT_TRUE(r.intervals.empty());
  }
}

TEST(Metrics, OneClassIsUndefinedWithAReason) {
  const std::vector<int> labels{1, 1, 1};
  const std::vector<double> scores{0.1, 0.5, 0.9};
  const auto auc = roc_auc(labels, scores);
  EXPECT_FALSE(auc.defined());
  EXPECT_NE(auc.reason.find("only one class present"), std::string::npos) << auc.reason;
  EXPECT_FALSE(average_precision(labels, scores).defined());
  EXPECT_FALSE(equal_error_rate(labels, scores).eer.defined());
  EXPECT_TRUE(log_loss(labels, scores).defined());  // log-loss needs no second class
}

TEST(Metrics, EmptyInputIsUndefinedNotACrash) {
  const std::vector<int> labels;
  const std::vector<double> scores;
  EXPECT_EQ(roc_auc(labels, scores).reason, "no samples");
  EXPECT_EQ(average_precision(labels, scores).reason, "no samples");
  EXPECT_EQ(equal_error_rate(labels, scores).eer.reason, "no samples");
  EXPECT_EQ(log_loss(labels, scores).reason, "no samples");
  EXPECT_FALSE(accuracy(confusion_at(labels, scores, 0.5)).defined());
  EXPECT_FALSE(tpr_at_fpr(labels, scores, 0.01).tpr.defined());
}

TEST(Metrics, LogLossClipsAtTheDfdcEpsilon) {
  // A confident miss costs -log(1e-15), not infinity.
  const auto loss = log_loss({1}, {0.0});
  ASSERT_TRUE(loss.defined());
  EXPECT_NEAR(*loss.value, -std::log(1e-15), 1e-12);
}

TEST(Metrics, EerTieOrderPutsBonaFideFirst) {
  // One real and one fake tied: the scorer rejects the bona fide trial first, so the curve goes
  // (FRR 0, FAR 1) -> (1, 1) -> (1, 0); argmin |FRR - FAR| is the second point, EER = 1.
  const auto eer = equal_error_rate({0, 1}, {0.5, 0.5});
  ASSERT_TRUE(eer.eer.defined());
  EXPECT_EQ(*eer.eer.value, 1.0);
  EXPECT_EQ(*eer.threshold.value, 0.5);
}

TEST(Metrics, BadInputThrows) {
  EXPECT_THROW(roc_auc({0, 1}, {0.5}), Error);
  EXPECT_THROW(roc_auc({0, 2}, {0.5, 0.4}), Error);
  EXPECT_THROW(roc_auc({0, 1}, {0.5, std::nan("")}), Error);
}

TEST(Metrics, GroupBreakdownMatchesPerGroupReferences) {
  for (const auto& c : load_cases()) {
    if (!c.contains("groups")) continue;
    const auto labels = c["labels"].get<std::vector<int>>();
    const auto scores = c["scores"].get<std::vector<double>>();
    const auto groups = c["groups"].get<std::vector<std::string>>();
    EvalOptions options;
    options.threshold = c["threshold"].get<double>();
    options.bootstrap.resamples = 0;
    const auto breakdown = evaluate_by_group(labels, scores, groups, options);
    const auto& want = c["expected_groups"];
    ASSERT_EQ(breakdown.groups.size(), want.size());
    for (const auto& [name, report] : breakdown.groups) {
      SCOPED_TRACE(name);
      ASSERT_TRUE(want.contains(name));
      EXPECT_EQ(report.n, want[name]["n"].get<std::size_t>());
      expect_metric("auc", report.auc, want[name]["auc"], 1e-9);
      expect_metric("eer", report.eer, want[name]["eer"], 1e-12);
      expect_metric("accuracy", report.accuracy, want[name]["accuracy"], 1e-12);
    }
    expect_metric("auc_gap", breakdown.auc_gap, c["expected_auc_gap"], 1e-9);
    EXPECT_NE(breakdown.best_group, breakdown.worst_group);
    return;
  }
  FAIL() << "no grouped fixture case";
}

TEST(Metrics, GroupGapNeedsTwoDefinedGroups) {
  EvalOptions options;
  options.bootstrap.resamples = 0;
  const auto breakdown = evaluate_by_group({0, 1, 1}, {0.2, 0.8, 0.4}, {"a", "a", "b"}, options);
  EXPECT_FALSE(breakdown.auc_gap.defined());
  EXPECT_FALSE(breakdown.auc_gap.reason.empty());
}

}  // namespace
}  // namespace dfscan::eval
