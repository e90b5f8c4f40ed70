// Metrics against scikit-learn 1.2 and the ASVspoof EER algorithm (fixtures from
// scripts/gen-metric-fixtures.py), plus the properties the references do not cover.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
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
    for (const auto& [name, report, vs_all_reals] : breakdown.groups) {
      SCOPED_TRACE(name);
      ASSERT_TRUE(want.contains(name));
      EXPECT_EQ(report.n, want[name]["n"].get<std::size_t>());
      EXPECT_EQ(vs_all_reals, want[name]["vs_all_reals"].get<bool>());
      expect_metric("ap", report.ap, want[name]["ap"], 1e-9);
      expect_metric("log_loss", report.log_loss, want[name]["log_loss"], 1e-9);
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
  // "b" holds one real and no fake: its AUC is undefined, so only "a" has one.
  const auto breakdown = evaluate_by_group({0, 1, 0}, {0.2, 0.8, 0.4}, {"a", "a", "b"}, options);
  EXPECT_FALSE(breakdown.groups[1].report.auc.defined());
  EXPECT_FALSE(breakdown.auc_gap.defined());
  EXPECT_FALSE(breakdown.auc_gap.reason.empty());
}

TEST(Metrics, GroupWithoutRealsIsScoredAgainstAllReals) {
  EvalOptions options;
  options.bootstrap.resamples = 0;
  // Methods "x" and "y" have only fakes; reals carry the method "original".
  const std::vector<int> labels{0, 0, 1, 1, 1, 1};
  const std::vector<double> scores{0.1, 0.6, 0.9, 0.7, 0.5, 0.05};
  const auto b = evaluate_by_group(labels, scores, {"original", "original", "x", "x", "y", "y"}, options);
  ASSERT_EQ(b.groups.size(), 3u);
  EXPECT_EQ(b.groups[1].name, "x");
  EXPECT_TRUE(b.groups[1].vs_all_reals);
  EXPECT_EQ(b.groups[1].report.n, 4u);  // 2 fakes + both reals
  EXPECT_EQ(*b.groups[1].report.auc.value, 1.0);
  EXPECT_EQ(*b.groups[2].report.auc.value, 0.25);  // 0.5 beats 0.1 only; 0.05 beats neither
  EXPECT_FALSE(b.groups[0].vs_all_reals);
  EXPECT_FALSE(b.groups[0].report.auc.defined());  // reals only
  EXPECT_DOUBLE_EQ(*b.auc_gap.value, 0.75);
  EXPECT_EQ(b.best_group, "x");
  EXPECT_EQ(b.worst_group, "y");
}

// The t-DCF cases of cases.json (scripts/gen-metric-fixtures.py) and each one's ASV scores.
nlohmann::json load_tdcf_cases() {
  std::ifstream in(testing::metric_fixture_dir() + "/cases.json");
  return nlohmann::json::parse(in)["tdcf_cases"];
}

AsvScores asv_of(const nlohmann::json& c) {
  return {c["asv"]["target"].get<std::vector<double>>(), c["asv"]["nontarget"].get<std::vector<double>>(),
          c["asv"]["spoof"].get<std::vector<double>>()};
}

TEST(Metrics, MinTdcf2019MatchesThePythonReimplementation) {
  const auto cases = load_tdcf_cases();
  ASSERT_GE(cases.size(), 2u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto asv = asv_of(c);
    const auto t =
        min_tdcf_2019(c["labels"].get<std::vector<int>>(), c["scores"].get<std::vector<double>>(), asv);
    const auto& want = c["expected"];
    expect_metric("min_tdcf", t.min_tdcf, want["min_tdcf"], 1e-12);
    expect_metric("min_tdcf_threshold", t.threshold, want["min_tdcf_threshold"], 1e-12);
    expect_metric("asv_eer", t.asv_eer, want["asv_eer"], 1e-12);
    expect_metric("asv_threshold", t.asv_threshold, want["asv_threshold"], 0.0);
    EXPECT_NEAR(t.c1, want["c1"].get<double>(), 1e-15);
    EXPECT_NEAR(t.c2, want["c2"].get<double>(), 1e-15);
    EXPECT_EQ(t.p_fa_asv, want["p_fa_asv"].get<double>());
    EXPECT_EQ(t.p_miss_asv, want["p_miss_asv"].get<double>());
    EXPECT_EQ(t.p_miss_spoof_asv, want["p_miss_spoof_asv"].get<double>());
  }
}

TEST(Metrics, MinTdcf2021MatchesThePythonReimplementation) {
  const auto cases = load_tdcf_cases();
  ASSERT_GE(cases.size(), 2u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto asv = asv_of(c);
    const auto labels = c["labels"].get<std::vector<int>>();
    const auto scores = c["scores"].get<std::vector<double>>();
    const auto& want = c["expected_2021"];
    const auto t = min_tdcf_2021(labels, scores, asv);
    EXPECT_EQ(t.edition, TdcfEdition::asvspoof2021);
    // The same operations in the same order as the scorer: equal to the last bit.
    expect_metric("min_tdcf", t.min_tdcf, want["min_tdcf"], 0.0);
    expect_metric("min_tdcf_threshold", t.threshold, want["min_tdcf_threshold"], 0.0);
    EXPECT_EQ(t.c0, want["c0"].get<double>());
    EXPECT_EQ(t.c1, want["c1"].get<double>());
    EXPECT_EQ(t.c2, want["c2"].get<double>());
    EXPECT_EQ(t.p_fa_spoof_asv, want["p_fa_spoof_asv"].get<double>());
    // The same weights given directly, as the 2021 package's pre-computed C012: the same value,
    // and no ASV figures to report.
    const auto given = min_tdcf_2021(labels, scores, TdcfCoefficients{t.c0, t.c1, t.c2});
    expect_metric("min_tdcf from C012", given.min_tdcf, want["min_tdcf"], 0.0);
    EXPECT_FALSE(given.asv_eer.defined());
    // Not the 2019 value: the editions differ.
    EXPECT_NE(*t.min_tdcf.value, *min_tdcf_2019(labels, scores, asv).min_tdcf.value);
  }
}

TEST(Metrics, MinTdcf2021RefusesWeightsItCannotUse) {
  const std::vector<int> labels{0, 1, 0, 1};
  const std::vector<double> scores{0.1, 0.9, 0.2, 0.8};
  const auto negative = min_tdcf_2021(labels, scores, TdcfCoefficients{-0.1, 0.9, 0.2});
  EXPECT_FALSE(negative.min_tdcf.defined());
  EXPECT_NE(negative.min_tdcf.reason.find("negative"), std::string::npos) << negative.min_tdcf.reason;
  const auto zero = min_tdcf_2021(labels, scores, TdcfCoefficients{0, 0, 0.2});
  EXPECT_FALSE(zero.min_tdcf.defined());
  EXPECT_NE(zero.min_tdcf.reason.find("zero"), std::string::npos) << zero.min_tdcf.reason;
  const auto nan = min_tdcf_2021(labels, scores, TdcfCoefficients{std::nan(""), 0.9, 0.2});
  EXPECT_FALSE(nan.min_tdcf.defined());
  EXPECT_NE(nan.min_tdcf.reason.find("finite"), std::string::npos) << nan.min_tdcf.reason;
  // A perfect countermeasure leaves only the ASV's own cost: C0 / (C0 + min(C1, C2)).
  const auto perfect = min_tdcf_2021(labels, scores, TdcfCoefficients{0.05, 0.9, 0.2});
  ASSERT_TRUE(perfect.min_tdcf.defined());
  EXPECT_DOUBLE_EQ(*perfect.min_tdcf.value, 0.05 / 0.25);
  EXPECT_FALSE(min_tdcf_2021(labels, scores, AsvScores{{2.0, 3.0}, {-1.0, -2.0}, {}}).min_tdcf.defined());
}

TEST(Metrics, EvaluateUsesTheChosenTdcfEdition) {
  const std::vector<int> labels{0, 1, 0, 1, 0, 1};
  const std::vector<double> scores{0.1, 0.9, 0.4, 0.3, 0.2, 0.8};
  EvalOptions options;
  options.bootstrap.resamples = 0;
  EXPECT_FALSE(evaluate(labels, scores, options).tdcf) << "no ASV scores, no C012: no t-DCF";
  options.asv = AsvScores{{2.0, 3.0, 2.5}, {-1.0, -2.0, 0.5}, {0.5, 1.5, -0.5}};
  EXPECT_EQ(evaluate(labels, scores, options).tdcf->edition, TdcfEdition::asvspoof2019);
  options.tdcf_edition = TdcfEdition::asvspoof2021;
  const auto from_asv = evaluate(labels, scores, options).tdcf;
  EXPECT_EQ(from_asv->edition, TdcfEdition::asvspoof2021);
  EXPECT_EQ(*from_asv->min_tdcf.value, *min_tdcf_2021(labels, scores, *options.asv).min_tdcf.value);
  options.c012 = TdcfCoefficients{0.05, 0.9, 0.2};  // given weights win over ASV scores
  EXPECT_EQ(evaluate(labels, scores, options).tdcf->c0, 0.05);
}

TEST(Metrics, MinTdcfIsUndefinedWithoutSpoofTrialsOrSoftScores) {
  AsvScores asv{{2.0, 3.0}, {-1.0, -2.0}, {}};
  EXPECT_FALSE(min_tdcf_2019({0, 1, 0, 1}, {0.1, 0.9, 0.2, 0.8}, asv).min_tdcf.defined());
  asv.spoof = {0.5, 1.5};
  EXPECT_TRUE(min_tdcf_2019({0, 1, 0, 1}, {0.1, 0.9, 0.2, 0.8}, asv).min_tdcf.defined());
  const auto hard = min_tdcf_2019({0, 1, 0, 1}, {0.0, 1.0, 0.0, 1.0}, asv);  // decisions, not scores
  EXPECT_FALSE(hard.min_tdcf.defined());
  EXPECT_NE(hard.min_tdcf.reason.find("soft scores"), std::string::npos);
}

TEST(Metrics, AsvScoreFileKeysAndErrors) {
  const auto path = testing::metric_fixture_dir() + "/tdcf_asv_scores.txt";
  const auto asv = read_asv_scores(path);
  EXPECT_EQ(asv.target.size(), 300u);
  EXPECT_EQ(asv.nontarget.size(), 200u);
  EXPECT_EQ(asv.spoof.size(), 250u);
  EXPECT_THROW(read_asv_scores(path + ".absent"), Error);
}

TEST(Metrics, RocCurveMatchesSklearn) {
  for (const auto& c : load_cases()) {
    if (!c.contains("expected_roc")) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto roc = roc_curve(c["labels"].get<std::vector<int>>(), c["scores"].get<std::vector<double>>());
    const auto& want = c["expected_roc"];
    ASSERT_EQ(roc.fpr.size(), want["fpr"].size());
    EXPECT_TRUE(std::isinf(roc.thresholds[0]));
    for (std::size_t i = 0; i < roc.fpr.size(); ++i) {
      EXPECT_NEAR(roc.fpr[i], want["fpr"][i].get<double>(), 1e-15);
      EXPECT_NEAR(roc.tpr[i], want["tpr"][i].get<double>(), 1e-15);
      if (i > 0) {
        EXPECT_EQ(roc.thresholds[i], want["thresholds"][i - 1].get<double>());
      }
    }
  }
}

TEST(Metrics, MeanByKeyGivesOneSamplePerVideo) {
  const auto v = mean_by_key({1, 1, 0, 1}, {0.2, 0.6, 0.3, 1.0}, {"a", "a", "b", "c"});
  EXPECT_EQ(v.keys, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(v.labels, (std::vector<int>{1, 0, 1}));
  EXPECT_DOUBLE_EQ(v.scores[0], 0.4);
  EXPECT_THROW(mean_by_key({1, 0}, {0.2, 0.3}, {"a", "a"}), Error);
}

}  // namespace
}  // namespace dfscan::eval
