// `dfscan data sbi --preview`: the grid's layout, the summary on stdout, a seed that fixes every
// pixel, one-line errors with their exit codes; and the iBUG 300-W terms that follow the landmark
// model into the summary and into the manifest of a model trained on `sbi:` data.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../common/cli.hpp"
#include "../common/scoped_temp_dir.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/sbi.hpp"

namespace fs = std::filesystem;
using dfscan::test::run_dfscan;
using dfscan::test::slurp;
using nlohmann::json;

namespace {

// A real face photo shipped by a Debian package (facedetect), as in test_sbi's landmark test.
const fs::path kFacePhoto = "/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg";
const fs::path kApp = dfscan::test::dfscan_binary();

// Textured 48x48 images: smooth colour ramps plus seeded noise, so a blend always shows.
void write_images(const fs::path& folder, int count) {
  fs::create_directories(folder);
  cv::RNG rng(11);
  for (int i = 0; i < count; ++i) {
    cv::Mat img(48, 48, CV_8UC3);
    for (int y = 0; y < img.rows; ++y)
      for (int x = 0; x < img.cols; ++x)
        img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(40 + 3 * x + rng.uniform(0, 60)),
                                            static_cast<uchar>(60 + 2 * y + rng.uniform(0, 60)),
                                            static_cast<uchar>(80 + x + y + i * 5));
    ASSERT_TRUE(cv::imwrite((folder / ("face" + std::to_string(i) + ".png")).string(), img));
  }
}

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace

TEST(SbiCli, PreviewGridLayoutSummaryAndSeed) {
  ASSERT_TRUE(fs::exists(kApp)) << kApp;
  dfscan::test::ScopedTempDir dir("sbi-cli");
  write_images(dir / "crops", 5);
  const std::string base = "data sbi --hull --size 64 --columns 2 --data '" + (dir / "crops").string() + "'";

  auto r = run_dfscan(base + " --preview 3 --seed 4 -o '" + (dir / "a.png").string() + "'", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto summary = json::parse(r.out);
  EXPECT_EQ(summary["pairs"], 3);
  EXPECT_EQ(summary["images"], 5);
  EXPECT_EQ(summary["box_masks"], 3);
  EXPECT_EQ(summary["landmark_masks"], 0);
  EXPECT_FALSE(summary.contains("terms"));  // no landmark model involved
  EXPECT_EQ(summary["data"].get<std::string>().rfind("sbi-hull:", 0), 0u);

  // Two rows of two pairs (real | self-blend), 64 px panels with 4 px gaps.
  const cv::Mat grid = cv::imread((dir / "a.png").string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(grid.empty());
  EXPECT_EQ(grid.rows, 2 * 64 + 3 * 4);
  EXPECT_EQ(grid.cols, 2 * (2 * 64 + 4) + 3 * 3 * 4);
  // The first pair's real and self-blend panels differ; the unused fourth slot stays white.
  const cv::Mat real = grid(cv::Rect(12, 4, 64, 48)), blend = grid(cv::Rect(12 + 68, 4, 64, 48));
  EXPECT_GT(cv::norm(real, blend, cv::NORM_L1), 0.0);
  const cv::Mat empty_slot = grid(cv::Rect(grid.cols - 100, grid.rows - 60, 90, 50));
  EXPECT_EQ(cv::countNonZero(empty_slot.reshape(1) != 255), 0);

  // The seed fixes every pixel; another seed gives other blends.
  ASSERT_EQ(
      run_dfscan(base + " --preview 3 --seed 4 -o '" + (dir / "b.png").string() + "'", dir.path()).exit_code,
      0);
  ASSERT_EQ(
      run_dfscan(base + " --preview 3 --seed 5 -o '" + (dir / "c.png").string() + "'", dir.path()).exit_code,
      0);
  EXPECT_EQ(slurp(dir / "a.png"), slurp(dir / "b.png"));
  EXPECT_NE(slurp(dir / "a.png"), slurp(dir / "c.png"));

  // --masks adds a third panel per pair.
  r = run_dfscan(base + " --preview 1 --masks -o '" + (dir / "m.jpg").string() + "'", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat with_masks = cv::imread((dir / "m.jpg").string(), cv::IMREAD_COLOR);
  EXPECT_EQ(with_masks.cols, 3 * 64 + 2 * 4 + 2 * 3 * 4);
}

TEST(SbiCli, BadArgumentsAndDataAreOneLineErrors) {
  ASSERT_TRUE(fs::exists(kApp)) << kApp;
  dfscan::test::ScopedTempDir dir("sbi-cli-errors");
  write_images(dir / "crops", 2);
  const std::string out = " -o '" + (dir / "g.png").string() + "'";
  // Usage: no --data, no -o, an unknown image type, a count out of range.
  EXPECT_EQ(run_dfscan("data sbi --hull --preview 2" + out, dir.path()).exit_code, 64);
  EXPECT_EQ(run_dfscan("data sbi --hull --preview 2 --data '" + (dir / "crops").string() + "'", dir.path())
                .exit_code,
            64);
  EXPECT_EQ(run_dfscan("data sbi --hull --preview 2 --data '" + (dir / "crops").string() + "' -o '" +
                           (dir / "g.txt").string() + "'",
                       dir.path())
                .exit_code,
            64);
  EXPECT_EQ(
      run_dfscan("data sbi --hull --preview 0 --data '" + (dir / "crops").string() + "'" + out, dir.path())
          .exit_code,
      64);
  // Data that is missing, or holds no real images: exit 2, one line naming the problem, no grid.
  for (const std::string& data : {(dir / "missing").string(), (dir / "empty").string()}) {
    fs::create_directories(dir / "empty");
    const auto r = run_dfscan("data sbi --hull --preview 2 --data '" + data + "'" + out, dir.path());
    EXPECT_EQ(r.exit_code, 2) << data;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(data), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
    EXPECT_FALSE(fs::exists(dir / "g.png"));
  }
}

// With libdlib-data installed, masks come from the iBUG 300-W-trained landmark model: the preview
// says so, and so does the manifest of a model trained on `sbi:` data (not on `sbi-hull:` data).
TEST(SbiCli, LandmarkModelTermsReachTheSummaryAndTheTrainedModel) {
  ASSERT_TRUE(fs::exists(kApp)) << kApp;
  if (dfscan::data::landmark_model_path().empty() || !fs::exists(kFacePhoto))
    GTEST_SKIP() << "needs libdlib-data and facedetect's example photo";
  dfscan::test::ScopedTempDir dir("sbi-cli-terms");
  const auto faces = dir / "faces";
  fs::create_directories(faces);
  for (int i = 0; i < 4; ++i) fs::copy_file(kFacePhoto, faces / ("face" + std::to_string(i) + ".jpg"));

  auto r =
      run_dfscan("data sbi --preview 2 --data '" + faces.string() + "' -o '" + (dir / "g.png").string() + "'",
                 dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto summary = json::parse(r.out);
  EXPECT_EQ(summary["landmark_masks"], 2);
  ASSERT_TRUE(summary.contains("terms"));
  EXPECT_NE(summary["terms"][0].get<std::string>().find("iBUG 300-W"), std::string::npos);
  EXPECT_NE(r.err.find("iBUG 300-W"), std::string::npos) << r.err;  // the logged notice

  auto train = [&](const std::string& spec, const std::string& name) {
    const auto model = dir / (name + ".safetensors");
    const auto t = run_dfscan("train --arch npr --arch-config '{\"layers\":[1,1]}' --input-size 16 --data '" +
                                  spec + "' --epochs 1 --batch 4 --threads 1 --seed 3 --no-progress -o '" +
                                  model.string() + "'",
                              dir.path());
    EXPECT_EQ(t.exit_code, 0) << t.err;
    dfscan::io::ReadOptions header;
    header.verify_hash = false;
    return dfscan::io::read_model_file(model, header).manifest;
  };
  const auto with_landmarks = train("sbi:" + faces.string(), "landmarks");
  ASSERT_TRUE(with_landmarks["training"].contains("terms")) << with_landmarks["training"].dump();
  EXPECT_NE(with_landmarks["training"]["terms"][0].get<std::string>().find("iBUG 300-W"), std::string::npos);
  const auto with_box = train("sbi-hull:" + faces.string(), "box");
  EXPECT_FALSE(with_box["training"].contains("terms")) << with_box["training"].dump();
}
