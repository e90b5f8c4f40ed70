// The eval document pieces and the HTML report (the browser check is in test_cli_eval.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <regex>

#include "dfscan/report.hpp"
#include "dfscan/status.hpp"
#include "fixtures.hpp"

namespace dfscan::eval {
namespace {

TEST(Report, ProbitMatchesScipy) {
  std::ifstream in(testing::metric_fixture_dir() + "/cases.json");
  const auto all = nlohmann::json::parse(in);
  ASSERT_FALSE(all["probit"].empty());
  for (const auto& p : all["probit"])
    EXPECT_NEAR(probit(p["p"].get<double>()), p["x"].get<double>(), 1e-12) << p;
  EXPECT_THROW(probit(0.0), Error);
  EXPECT_THROW(probit(1.0), Error);
}

TEST(Report, PlotDataHasCurvesAndClassHistograms) {
  const std::vector<int> labels{0, 0, 0, 1, 1, 1, 1};
  const std::vector<double> scores{0.05, 0.3, 0.55, 0.5, 0.7, 0.95, 1.0};
  const auto p = plot_json(labels, scores, 10);
  EXPECT_EQ(p["roc"]["fpr"].front(), 0.0);
  EXPECT_EQ(p["roc"]["fpr"].back(), 1.0);
  EXPECT_EQ(p["roc"]["tpr"].back(), 1.0);
  EXPECT_EQ(p["det"]["fnr"].front(), 1.0);
  const auto fake = p["histogram"]["fake"].get<std::vector<double>>();
  const auto real = p["histogram"]["real"].get<std::vector<double>>();
  ASSERT_EQ(fake.size(), 10u);
  EXPECT_DOUBLE_EQ(fake[9], 0.5);  // 0.95 and 1.0 (the closed last bin)
  EXPECT_DOUBLE_EQ(fake[5], 0.25);
  EXPECT_DOUBLE_EQ(real[0], 1.0 / 3);
  // Thinned curves keep both ends.
  std::vector<int> many_labels;
  std::vector<double> many_scores;
  for (int i = 0; i < 5000; ++i) {
    many_labels.push_back(i % 2);
    many_scores.push_back((i % 997) / 997.0 + (i % 2) * 1e-4);
  }
  const auto thin = plot_json(many_labels, many_scores, 20, 300);
  EXPECT_EQ(thin["roc"]["fpr"].size(), 300u);
  EXPECT_EQ(thin["roc"]["fpr"].front(), 0.0);
  EXPECT_EQ(thin["roc"]["tpr"].back(), 1.0);
}

ordered_json sample_document() {
  const std::vector<int> labels{0, 0, 0, 1, 1, 1, 1, 0, 1, 0};
  const std::vector<double> scores{0.05, 0.3, 0.55, 0.5, 0.7, 0.95, 1.0, 0.2, 0.4, 0.1};
  EvalOptions options;
  options.bootstrap.resamples = 50;
  ordered_json doc = report_json(evaluate(labels, scores, options));
  doc["levels"] = {{"file", doc}};
  doc["groups"] = {
      {"method", group_reports_json(evaluate_by_group(
                     labels, scores, {"o", "o", "o", "a", "a", "b", "b", "o", "b", "o"}, options))}};
  doc["plots"] = {{"file", plot_json(labels, scores)}};
  doc["statuses"] = {{"ok", 10}, {"no_face", 1}};
  doc["unscored"] = {
      {"count", 1},
      {"files", {{{"path", "<odd & name>.mp4"}, {"label", "fake"}, {"status", "no_face"}, {"error", ""}}}}};
  doc["config"] = {{"dataset", "folder"}, {"models", {{{"name", "genconvit-ed-atto"}}}}};
  return doc;
}

TEST(Report, HtmlIsSelfContainedAndHoldsEveryPart) {
  const auto html = render_html_report(sample_document());
  // Drawn plots with path data.
  for (const char* id :
       {"roc-plot", "det-plot", "hist-plot", "roc-curve-file", "det-curve-file", "hist-fake", "hist-real"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_TRUE(std::regex_search(html, std::regex("id=\"roc-curve-file\"[^>]* d=\"M[0-9.]+ [0-9.]+L")));
  // The group table, the gap, the unscored file (escaped), the configuration.
  EXPECT_NE(html.find("id=\"groups-method\""), std::string::npos);
  EXPECT_NE(html.find("AUC gap between the best and the worst group"), std::string::npos);
  EXPECT_NE(html.find("&lt;odd &amp; name&gt;.mp4"), std::string::npos);
  EXPECT_NE(html.find("genconvit-ed-atto"), std::string::npos);
  // Nothing that could reach the network: no URL, no script, no external stylesheet or font.
  EXPECT_FALSE(
      std::regex_search(html, std::regex("(https?|ftp)://|//[a-z0-9.-]+\\.[a-z]{2,}/", std::regex::icase)));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
}

TEST(Report, JsonMetricsAreNumbersOrNullsWithReasons) {
  const auto doc = report_json(evaluate({1, 1}, {0.2, 0.9}, {}));
  for (const char* key :
       {"auc", "ap", "eer", "log_loss", "accuracy", "balanced_accuracy", "tpr_at_fpr_1pct"}) {
    ASSERT_TRUE(doc.contains(key)) << key;
    EXPECT_TRUE(doc[key].is_number() || doc[key].is_null()) << key;
    if (doc[key].is_null()) {
      EXPECT_TRUE(doc["reasons"].contains(key)) << key;
    }
  }
  EXPECT_TRUE(doc["auc"].is_null());
}

}  // namespace
}  // namespace dfscan::eval
