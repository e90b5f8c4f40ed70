// `dfscan faces`: records, statuses, exit codes and saved crops, through the real binary.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "../common/cli.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kApp = DFSCAN_BINARY_DIR "/apps/dfscan/dfscan";
const char* kAstronaut = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";
const char* kIceBlock = "/usr/share/doc/facedetect/examples/640px-IceBlockNearJoekullsarlon.jpg";

struct Run {
  int code = -1;
  std::string out;
};

Run run(const std::string& args) {
  Run r;
  FILE* p = ::popen((kApp + " " + args + " 2>/dev/null").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

using dfscan::test::jsonl;

class FacesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kApp)) GTEST_SKIP() << kApp << " not built";
    dir_ = fs::temp_directory_path() / ("dfscan_faces_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

}  // namespace

TEST_F(FacesCli, ImageWithOneFaceIsOneTrackOfOneFrame) {
  if (!fs::exists(kAstronaut)) GTEST_SKIP();
  const auto r = run(std::string("faces --format json ") + kAstronaut);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["schema"], "dfscan.faces/1");
  ASSERT_EQ(doc["results"].size(), 1u);
  const auto& rec = doc["results"][0];
  EXPECT_EQ(rec["status"], "ok");
  EXPECT_EQ(rec["modality"], "image");
  EXPECT_EQ(rec["frames_sampled"], 1);
  ASSERT_EQ(rec["tracks"].size(), 1u);
  EXPECT_EQ(rec["tracks"][0]["id"], 0);
  ASSERT_EQ(rec["tracks"][0]["frames"].size(), 1u);
  const auto& f = rec["tracks"][0]["frames"][0];
  EXPECT_EQ(f["t"], 0.0);
  ASSERT_EQ(f["box"].size(), 4u);
  EXPECT_GT(f["box"][2].get<double>(), 50.0);
  EXPECT_TRUE(f["score"].is_number());
}

TEST_F(FacesCli, StatusesAndExitCodes) {
  if (!fs::exists(kIceBlock) || !fs::exists(kAstronaut)) GTEST_SKIP();
  const auto empty = dir_ / "empty.mp4";
  std::ofstream(empty).close();
  // no_face is not a failure.
  auto r = run(std::string("faces --format jsonl ") + kIceBlock);
  EXPECT_EQ(r.code, 0);
  auto lines = jsonl(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["status"], "no_face");
  EXPECT_TRUE(lines[0]["tracks"].empty());
  EXPECT_EQ(lines[1]["type"], "summary");
  // A missing or empty file is, and records keep the input order.
  r = run("faces --format jsonl " + std::string(kAstronaut) + " " + (dir_ / "missing.jpg").string() + " " +
          empty.string());
  EXPECT_EQ(r.code, 2);
  lines = jsonl(r.out);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]["status"], "ok");
  EXPECT_EQ(lines[1]["status"], "not_found");
  EXPECT_EQ(lines[2]["status"], "empty");
  EXPECT_FALSE(lines[2]["error"].is_null());
  // A text line per file, then the summary.
  r = run(std::string("faces ") + kAstronaut);
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find(": ok  1 track(s) in 1 frame(s)"), std::string::npos) << r.out;
  // A folder is its files, in name order; -r goes into its sub-folders.
  fs::create_directories(dir_ / "sub");
  fs::copy_file(kAstronaut, dir_ / "a.png");
  fs::copy_file(kIceBlock, dir_ / "sub" / "b.jpg");
  lines = jsonl(run("faces --format jsonl " + dir_.string()).out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["path"], (dir_ / "a.png").string());
  EXPECT_EQ(lines[1]["path"], empty.string());
  lines = jsonl(run("faces -r --format jsonl " + dir_.string()).out);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2]["path"], (dir_ / "sub" / "b.jpg").string());
}

TEST_F(FacesCli, UnknownDetectorIsAUsageError) {
  EXPECT_EQ(run("faces --detector nope /dev/null").code, 64);
  EXPECT_EQ(run("faces --format csv /dev/null").code, 64);
  EXPECT_EQ(run("faces --detector yunet:/nonexistent.onnx /dev/null").code, 64);
}

TEST_F(FacesCli, VideoTrackAndSavedCrops) {
  const fs::path clip = fs::path(DFSCAN_SHARED_DIR) / "data" / "videos" / "ff_clip_0017_fake.mp4";
  if (!fs::exists(clip)) GTEST_SKIP() << clip << " absent";
  const auto crops = dir_ / "crops";
  const auto r = run("faces --frames 16 --format jsonl --crop-size 112 --save-crops " + crops.string() + " " +
                     clip.string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto lines = jsonl(r.out);
  ASSERT_EQ(lines.size(), 2u);
  const auto& rec = lines[0];
  EXPECT_EQ(rec["status"], "ok");
  EXPECT_EQ(rec["frames_sampled"], 16);
  ASSERT_EQ(rec["tracks"].size(), 1u);
  const auto& frames = rec["tracks"][0]["frames"];
  EXPECT_GE(frames.size(), 15u);
  size_t pngs = 0;
  for (const auto& e : fs::directory_iterator(crops)) {
    const auto name = e.path().filename().string();
    EXPECT_EQ(name.rfind("ff_clip_0017_fake_t0_f", 0), 0u) << name;
    const cv::Mat img = cv::imread(e.path().string(), cv::IMREAD_UNCHANGED);
    EXPECT_EQ(img.cols, 112);
    EXPECT_EQ(img.rows, 112);
    EXPECT_EQ(img.channels(), 3);
    ++pngs;
  }
  EXPECT_EQ(pngs, frames.size());
}
