#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "clips.hpp"
#include "dfscan/media.hpp"

namespace dfscan::media {
namespace {

using test::ClipDir;

// Frame `n` of a clip as ffmpeg's CLI decodes it (autorotated), as RGB, converted with the same
// swscale filter the reader uses.
cv::Mat ffmpeg_frame(const std::string& path, int n) {
  auto png = (ClipDir::get().path() / ("ref_" + std::to_string(n) + ".png")).string();
  std::string cmd = "ffmpeg -nostdin -v error -y -i " + test::shell_quote(path) + " -vf \"select=eq(n\\," +
                    std::to_string(n) + ")\" -vsync 0 -sws_flags bilinear -frames:v 1 " +
                    test::shell_quote(png);
  if (test::run_shell(cmd) != 0) return {};
  cv::Mat bgr = cv::imread(png, cv::IMREAD_COLOR), rgb;
  if (bgr.empty()) return {};
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  auto m = cv::mean(diff);
  return (m[0] + m[1] + m[2]) / 3;
}

TEST(VideoReader, UniformFramesMatchFfmpegPixelsAndTimes) {
  DFSCAN_REQUIRE_FFMPEG();
  auto clip = ClipDir::get().clip("h264.mp4");
  ASSERT_FALSE(clip.empty());
  auto r = read_video(clip, FrameSelection::uniform(4));
  ASSERT_EQ(r.status, Status::ok) << r.message;
  ASSERT_EQ(r.frames.size(), 4u);
  // 50 frames: indices 0, 16, 33, 49 at 25 fps.
  const int expected[] = {0, 16, 33, 49};
  for (int i = 0; i < 4; ++i) {
    const auto& f = r.frames[i];
    EXPECT_NEAR(f.pts, expected[i] / 25.0, 1e-3) << i;
    ASSERT_EQ(f.rgb.type(), CV_8UC3);
    ASSERT_EQ(f.rgb.cols, 320);
    ASSERT_EQ(f.rgb.rows, 240);
    auto ref = ffmpeg_frame(clip, expected[i]);
    ASSERT_FALSE(ref.empty());
    // Same frame, same RGB order, same conversion.
    EXPECT_LT(mean_abs_diff(f.rgb, ref), 1.0) << "frame " << expected[i];
  }
  EXPECT_EQ(r.width, 320);
  EXPECT_NEAR(r.fps, 25.0, 1e-6);
  EXPECT_NEAR(r.duration, 2.0, 0.05);
}

TEST(VideoReader, SkipsWorkForSparseTargets) {
  DFSCAN_REQUIRE_FFMPEG();
  auto clip = ClipDir::get().clip("h264.mp4");
  ASSERT_FALSE(clip.empty());
  // One frame near the end: a seek to the last keyframe, then a few frames decoded.
  auto r = read_video(clip, FrameSelection::at({1.8}));
  ASSERT_EQ(r.status, Status::ok) << r.message;
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_NEAR(r.frames[0].pts, 1.8, 0.021);
  EXPECT_LT(r.frames_decoded, 25) << "should seek to the keyframe at 1.0 s, not decode from 0";
  auto ref = ffmpeg_frame(clip, 45);
  ASSERT_FALSE(ref.empty());
  EXPECT_LT(mean_abs_diff(r.frames[0].rgb, ref), 1.0);
}

TEST(VideoReader, EveryKthFpsAndTimestamps) {
  DFSCAN_REQUIRE_FFMPEG();
  auto clip = ClipDir::get().clip("h264.mp4");
  ASSERT_FALSE(clip.empty());
  auto kth = read_video(clip, FrameSelection::every_kth(10));
  ASSERT_EQ(kth.status, Status::ok) << kth.message;
  ASSERT_EQ(kth.frames.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_NEAR(kth.frames[i].pts, i * 0.4, 1e-3);

  auto fps = read_video(clip, FrameSelection::at_fps(5));
  ASSERT_EQ(fps.status, Status::ok);
  ASSERT_EQ(fps.frames.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) EXPECT_NEAR(fps.frames[i].pts, i * 0.2, 0.021);

  auto at = read_video(clip, FrameSelection::at({1.0, 0.5, 0.5}));
  ASSERT_EQ(at.status, Status::ok);
  ASSERT_EQ(at.frames.size(), 2u);
  EXPECT_NEAR(at.frames[0].pts, 0.5, 0.021);
  EXPECT_NEAR(at.frames[1].pts, 1.0, 0.021);

  // The callback can stop early.
  int seen = 0;
  auto stopped = read_video(clip, FrameSelection::every_kth(1), [&](Frame&&) { return ++seen < 3; });
  EXPECT_EQ(stopped.status, Status::ok);
  EXPECT_EQ(seen, 3);
}

TEST(VideoReader, CodecsAndOddFormats) {
  DFSCAN_REQUIRE_FFMPEG();
  struct Case {
    const char* clip;
    int width, height;
    std::size_t frames;
  };
  for (const auto& c :
       {Case{"mpeg4.avi", 176, 144, 3}, Case{"vp9.webm", 160, 120, 3}, Case{"odd_size.mkv", 33, 17, 3},
        Case{"ten_bit.mp4", 64, 48, 3}, Case{"alpha.mov", 64, 48, 3}, Case{"one_pixel.mp4", 1, 1, 3},
        Case{"single_frame.mp4", 128, 96, 1}}) {
    auto clip = ClipDir::get().clip(c.clip);
    ASSERT_FALSE(clip.empty()) << c.clip;
    auto r = read_video(clip, FrameSelection::uniform(3));
    ASSERT_EQ(r.status, Status::ok) << c.clip << ": " << r.message;
    ASSERT_EQ(r.frames.size(), c.frames) << c.clip;
    EXPECT_EQ(r.frames[0].rgb.cols, c.width) << c.clip;
    EXPECT_EQ(r.frames[0].rgb.rows, c.height) << c.clip;
    EXPECT_EQ(r.frames[0].rgb.type(), CV_8UC3) << c.clip;
    if (std::string(c.clip) != "one_pixel.mp4") {
      auto ref = ffmpeg_frame(clip, 0);
      ASSERT_FALSE(ref.empty()) << c.clip;
      EXPECT_LT(mean_abs_diff(r.frames[0].rgb, ref), 1.0) << c.clip;
    }
  }
}

TEST(VideoReader, HonoursRotation) {
  DFSCAN_REQUIRE_FFMPEG();
  auto clip = ClipDir::get().clip("rotated.mp4");
  ASSERT_FALSE(clip.empty());
  auto r = read_video(clip, FrameSelection::uniform(2));
  ASSERT_EQ(r.status, Status::ok) << r.message;
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.rotation, 270);
  EXPECT_EQ(r.width, 48);
  EXPECT_EQ(r.height, 64);
  EXPECT_EQ(r.frames[0].rgb.cols, 48);
  EXPECT_EQ(r.frames[0].rgb.rows, 64);
  auto ref = ffmpeg_frame(clip, 0);  // ffmpeg autorotates
  ASSERT_EQ(ref.size(), r.frames[0].rgb.size());
  EXPECT_LT(mean_abs_diff(r.frames[0].rgb, ref), 1.0);
}

TEST(VideoReader, VariableFrameRateTimestamps) {
  DFSCAN_REQUIRE_FFMPEG();
  auto clip = ClipDir::get().clip("vfr.mp4");
  ASSERT_FALSE(clip.empty());
  auto times = test::capture(
      "ffprobe -v error -select_streams v -show_entries frame=best_effort_timestamp_time -of csv=p=0 " +
      test::shell_quote(clip));
  std::vector<double> expected;
  std::istringstream in(times);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) expected.push_back(std::stod(line));
  ASSERT_GT(expected.size(), 10u);
  auto r = read_video(clip, FrameSelection::every_kth(1));
  ASSERT_EQ(r.status, Status::ok) << r.message;
  ASSERT_EQ(r.frames.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(r.frames[i].pts, expected[i] - expected[0], 1e-3) << i;
}

TEST(VideoReader, TypedFailures) {
  DFSCAN_REQUIRE_FFMPEG();
  auto& dir = ClipDir::get();
  EXPECT_EQ(read_video((dir.path() / "missing.mp4").string(), FrameSelection::uniform(2)).status,
            Status::not_found);
  EXPECT_EQ(read_video(dir.write("empty.mp4", ""), FrameSelection::uniform(2)).status, Status::empty);
  EXPECT_EQ(read_video(dir.write("text.mp4", "just some text\n"), FrameSelection::uniform(2)).status,
            Status::unsupported);
  auto audio = dir.clip("tone.wav");
  ASSERT_FALSE(audio.empty());
  auto no_video = read_video(audio, FrameSelection::uniform(2));
  EXPECT_EQ(no_video.status, Status::unsupported);
  EXPECT_EQ(no_video.message, "no video stream");

  // Truncated mid-file with the index in front: what was decoded, plus a typed status.
  auto cut = dir.truncated("h264_faststart.mp4", "cut.mp4", 0.5);
  ASSERT_FALSE(cut.empty());
  auto r = read_video(cut, FrameSelection::uniform(4));
  EXPECT_EQ(r.status, Status::truncated) << r.message;
  EXPECT_FALSE(r.frames.empty());
  EXPECT_NE(std::find(r.warnings.begin(), r.warnings.end(), "partial_decode"), r.warnings.end());

  VideoOptions small;
  small.limits.max_pixels = 320 * 240 - 1;
  EXPECT_EQ(read_video(dir.clip("h264.mp4"), FrameSelection::uniform(2), small).status, Status::too_large);

  VideoOptions instant;
  instant.limits.deadline_seconds = 1e-9;
  auto timed_out = read_video(dir.clip("h264.mp4"), FrameSelection::uniform(2), instant);
  EXPECT_EQ(timed_out.status, Status::error);
  EXPECT_NE(timed_out.message.find("deadline"), std::string::npos) << timed_out.message;

  std::atomic<bool> cancel{true};
  VideoOptions cancelled;
  cancelled.limits.cancel = &cancel;
  auto c = read_video(dir.clip("h264.mp4"), FrameSelection::uniform(2), cancelled);
  EXPECT_EQ(c.status, Status::error);
  EXPECT_EQ(c.message, "interrupted");

  EXPECT_EQ(read_video(dir.clip("h264.mp4"), FrameSelection::uniform(0)).status, Status::error);
}

TEST(VideoReader, SharedClipIfPresent) {
  std::string clip = std::string(DFSCAN_SHARED_DIR) + "/data/videos/stock_720p_aac.mp4";
  if (!std::filesystem::exists(clip)) GTEST_SKIP() << "shared data absent";
  auto r = read_video(clip, FrameSelection::uniform(16));
  ASSERT_EQ(r.status, Status::ok) << r.message;
  ASSERT_EQ(r.frames.size(), 16u);
  EXPECT_EQ(r.frames[0].rgb.cols, 1280);
  for (std::size_t i = 1; i < r.frames.size(); ++i) EXPECT_GT(r.frames[i].pts, r.frames[i - 1].pts);
  // B-frames that no target needs are skipped inside the decoder.
  EXPECT_LT(r.frames_decoded, 531);
}

}  // namespace
}  // namespace dfscan::media
