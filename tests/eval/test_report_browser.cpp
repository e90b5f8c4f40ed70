// The HTML report in a real browser: headless Chromium renders `dfscan eval --report`'s report.html.
// The screenshot must not be blank, the ROC and DET plots must be drawn, and the page must make no
// network request (checked from Chromium's own network log, with every host name unresolvable).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <set>

#include "../common/cli.hpp"
#include "../common/scoped_temp_dir.hpp"
#include "fixtures.hpp"

namespace dfscan::eval::testing {
namespace {

using namespace dfscan::test;

namespace fs = std::filesystem;

std::string chromium_command(const fs::path& profile) {
  // No first-run, sync or component work; every host name resolves to nothing.
  return "timeout 90 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run "
         "--disable-sync --disable-default-apps --disable-background-networking --disable-component-update "
         "--host-resolver-rules='MAP * ~NOTFOUND' --user-data-dir=" +
         quote(profile.string());
}

// URLs the page itself asked for: URL requests whose initiator is the page (not the browser's own
// background services, whose initiator is "not an origin"), other than file: and data: URLs.
std::set<std::string> page_requests(const fs::path& net_log) {
  const auto log = nlohmann::json::parse(slurp(net_log));
  const auto& types = log["constants"]["logEventTypes"];
  const int start_job = types["URL_REQUEST_START_JOB"].get<int>();
  std::set<std::string> out;
  for (const auto& e : log["events"]) {
    if (e["type"] != start_job || !e.contains("params") || !e["params"].contains("url")) continue;
    const auto url = e["params"]["url"].get<std::string>();
    const auto initiator = e["params"].value("initiator", "");
    if (url.rfind("file:", 0) == 0 || url.rfind("data:", 0) == 0) continue;
    if (initiator == "not an origin") continue;
    out.insert(url);
  }
  return out;
}

class ReportBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(dfscan_binary())) GTEST_SKIP() << "build the dfscan target first";
    if (std::system("command -v chromium >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "chromium is not installed (scripts/setup-deps.sh installs it)";
  }
  dfscan::test::ScopedTempDir dir_{"eval-report-browser"};
};

TEST_F(ReportBrowser, RendersDrawsBothCurvesAndMakesNoRequest) {
  const auto report = dir_ / "report";
  const auto r = run_dfscan("eval --scores " + quote(metric_fixture_dir() + "/grouped_scores.csv") +
                                " --bootstrap 100 --report " + quote(report.string()),
                            dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto html_path = report / "report.html";
  const auto html = slurp(html_path);
  ASSERT_FALSE(html.empty());
  EXPECT_TRUE(nlohmann::json::parse(slurp(report / "report.json")).contains("plots"));
  // The file itself names nothing remote.
  EXPECT_FALSE(std::regex_search(html, std::regex("(https?|wss?|ftp)://", std::regex::icase)));
  const std::string url = "file://" + fs::absolute(html_path).string();

  // 1. A screenshot, with the network log.
  const auto shot = dir_ / "shot.png", net = dir_ / "net.json";
  const auto s = run_command(chromium_command(dir_ / "profile-1") +
                                 " --window-size=1200,1800 --screenshot=" + quote(shot.string()) +
                                 " --log-net-log=" + quote(net.string()) + " " + quote(url),
                             dir_.path());
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const cv::Mat image = cv::imread(shot.string(), cv::IMREAD_GRAYSCALE);
  ASSERT_FALSE(image.empty()) << "no screenshot: " << s.err;
  EXPECT_EQ(image.cols, 1200);
  cv::Scalar mean, stddev;
  cv::meanStdDev(image, mean, stddev);
  const double dark_fraction = static_cast<double>(cv::countNonZero(image < 200)) / image.total();
  std::cout << "screenshot " << image.cols << "x" << image.rows << ": grey mean " << mean[0] << ", stddev "
            << stddev[0] << ", " << 100 * dark_fraction << "% dark pixels\n";
  EXPECT_GT(stddev[0], 10.0) << "the screenshot is (nearly) blank";
  EXPECT_GT(dark_fraction, 0.01) << "almost nothing was drawn";
  const auto requests = page_requests(net);
  EXPECT_TRUE(requests.empty()) << "the report requested " << *requests.begin();

  // 2. The DOM as the browser built it: both plots hold curves with path data.
  const auto dom =
      run_command(chromium_command(dir_ / "profile-2") + " --dump-dom " + quote(url), dir_.path());
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  for (const char* id : {"roc-plot", "det-plot", "hist-plot"})
    EXPECT_NE(dom.out.find(std::string("<svg id=\"") + id + "\""), std::string::npos) << id;
  for (const char* id : {"roc-curve-file", "det-curve-file"}) {
    const std::regex drawn(std::string("<path id=\"") + id +
                           "\"[^>]* d=\"M[-0-9.]+ [-0-9.]+(L[-0-9.]+ [-0-9.]+){3,}");
    EXPECT_TRUE(std::regex_search(dom.out, drawn)) << id << " has no drawn path";
  }
  EXPECT_NE(dom.out.find("id=\"groups-dataset\""), std::string::npos);
}

TEST_F(ReportBrowser, TheNetworkCheckCatchesAPageThatFetches) {
  // The control: a page with a remote image and stylesheet must show up in the same check.
  const auto page = dir_ / "leaky.html";
  std::ofstream(page) << "<!DOCTYPE html><html><body><img src=\"https://example.com/x.png\">"
                         "<link rel=\"stylesheet\" href=\"http://fonts.example.org/a.css\"></body></html>";
  const auto net = dir_ / "net.json";
  const auto s =
      run_command(chromium_command(dir_ / "profile") + " --dump-dom --log-net-log=" + quote(net.string()) +
                      " " + quote("file://" + page.string()),
                  dir_.path());
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto requests = page_requests(net);
  EXPECT_EQ(requests.count("https://example.com/x.png"), 1u);
  EXPECT_EQ(requests.count("http://fonts.example.org/a.css"), 1u);
}

}  // namespace
}  // namespace dfscan::eval::testing
