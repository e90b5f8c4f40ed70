#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "clips.hpp"
#include "dfscan/media.hpp"

namespace dfscan::media {
namespace {

using test::ClipDir;

// Frequency from upward zero crossings.
double dominant_frequency(const std::vector<float>& pcm, int rate) {
  int crossings = 0;
  for (std::size_t i = 1; i < pcm.size(); ++i)
    if (pcm[i - 1] < 0 && pcm[i] >= 0) ++crossings;
  return crossings * static_cast<double>(rate) / static_cast<double>(pcm.size());
}

TEST(AudioReader, EveryFormatToMono16k) {
  DFSCAN_REQUIRE_FFMPEG();
  for (const char* name :
       {"tone.wav", "tone.mp3", "tone.flac", "tone.ogg", "tone.opus", "tone.m4a", "h264.mp4"}) {
    auto clip = ClipDir::get().clip(name);
    ASSERT_FALSE(clip.empty()) << name;
    auto r = read_audio(clip);
    ASSERT_EQ(r.status, Status::ok) << name << ": " << r.message;
    double seconds = std::string(name) == "h264.mp4" ? 2.0 : 1.5;
    // Encoder padding adds up to a few tens of milliseconds.
    EXPECT_NEAR(static_cast<double>(r.pcm.size()) / 16000.0, seconds, 0.08) << name;
    EXPECT_EQ(r.samples, static_cast<std::int64_t>(r.pcm.size()));
    EXPECT_NEAR(dominant_frequency(r.pcm, 16000), 440.0, 10.0) << name;
    float peak = 0;
    for (float v : r.pcm) peak = std::max(peak, std::fabs(v));
    // lavfi's sine has amplitude 1/8; the stereo wav averages two equal channels back to it.
    EXPECT_NEAR(peak, 0.125f, 0.03f) << name;
  }
}

TEST(AudioReader, WindowsAndLimits) {
  DFSCAN_REQUIRE_FFMPEG();
  auto clip = ClipDir::get().clip("tone.wav");
  ASSERT_FALSE(clip.empty());
  AudioOptions options;
  options.sample_rate = 8000;
  options.window = 4000;
  std::vector<std::size_t> sizes;
  std::vector<double> starts;
  auto r = read_audio(
      clip,
      [&](const float*, std::size_t n, double start) {
        sizes.push_back(n);
        starts.push_back(start);
        return true;
      },
      options);
  ASSERT_EQ(r.status, Status::ok) << r.message;
  EXPECT_EQ(r.source_rate, 44100);
  EXPECT_EQ(r.source_channels, 2);
  ASSERT_EQ(sizes.size(), 3u);  // 12000 samples: 4000, 4000, 4000
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(sizes[i], 4000u);
    EXPECT_NEAR(starts[i], i * 0.5, 1e-9);
  }
  options.max_seconds = 0.6;
  auto capped = read_audio(clip, options);
  EXPECT_EQ(capped.pcm.size(), 4800u);
}

TEST(AudioReader, TypedFailures) {
  DFSCAN_REQUIRE_FFMPEG();
  auto& dir = ClipDir::get();
  auto empty = read_audio(dir.write("no_samples.wav", test::empty_wav()));
  EXPECT_EQ(empty.status, Status::empty) << empty.message;
  auto silent_video = dir.clip("mpeg4.avi");
  ASSERT_FALSE(silent_video.empty());
  EXPECT_EQ(read_audio(silent_video).status, Status::unsupported);
  EXPECT_EQ(read_audio((dir.path() / "nope.wav").string()).status, Status::not_found);
}

TEST(ImageHeader, ReadsSizesWithoutDecoding) {
  for (const char* ext : {".png", ".jpg", ".bmp", ".webp"}) {
    cv::Mat img(37, 53, CV_8UC3, cv::Scalar(10, 20, 30));
    std::vector<std::uint8_t> bytes;
    if (!cv::imencode(ext, img, bytes)) continue;  // an OpenCV built without that codec
    auto h = read_image_header(bytes.data(), bytes.size());
    ASSERT_TRUE(h.has_value()) << ext;
    EXPECT_EQ(h->width, 53) << ext;
    EXPECT_EQ(h->height, 37) << ext;
  }
  auto big = test::png_header_only(100000, 100000);
  auto h = read_image_header(reinterpret_cast<const std::uint8_t*>(big.data()), big.size());
  ASSERT_TRUE(h);
  EXPECT_EQ(h->width * h->height, 10'000'000'000LL);
  std::string junk = "hello";
  EXPECT_FALSE(read_image_header(reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size()));
}

TEST(ImageReader, DepthsChannelsAndLimits) {
  auto& dir = ClipDir::get();
  cv::Mat bgr(20, 30, CV_8UC3, cv::Scalar(255, 0, 0));  // pure blue in BGR
  auto colour = (dir.path() / "blue.png").string();
  ASSERT_TRUE(cv::imwrite(colour, bgr));
  auto r = read_image(colour);
  ASSERT_EQ(r.status, Status::ok) << r.message;
  EXPECT_EQ(r.rgb.type(), CV_8UC3);
  EXPECT_EQ(r.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 255));  // RGB order
  EXPECT_EQ(r.channels, 3);
  EXPECT_EQ(r.bit_depth, 8);

  cv::Mat deep(10, 12, CV_16UC1, cv::Scalar(65535));
  auto gray16 = (dir.path() / "gray16.png").string();
  ASSERT_TRUE(cv::imwrite(gray16, deep));
  auto g = read_image(gray16);
  ASSERT_EQ(g.status, Status::ok) << g.message;
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(g.bit_depth, 16);
  EXPECT_EQ(g.rgb.type(), CV_8UC3);
  EXPECT_EQ(g.rgb.at<cv::Vec3b>(5, 5), cv::Vec3b(255, 255, 255));

  cv::Mat bgra(8, 9, CV_8UC4, cv::Scalar(0, 255, 0, 128));
  auto alpha = (dir.path() / "alpha.png").string();
  ASSERT_TRUE(cv::imwrite(alpha, bgra));
  auto a = read_image(alpha);
  ASSERT_EQ(a.status, Status::ok) << a.message;
  EXPECT_EQ(a.channels, 4);
  EXPECT_EQ(a.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 255, 0));

  auto huge = read_image(dir.write("huge.png", test::png_header_only(100000, 100000)));
  EXPECT_EQ(huge.status, Status::too_large) << huge.message;
  Limits tight;
  tight.max_pixels = 599;
  EXPECT_EQ(read_image(colour, tight).status, Status::too_large);
  EXPECT_EQ(read_image(dir.write("notimage.png", "plain text")).status, Status::unsupported);
  EXPECT_EQ(read_image(dir.write("zero.png", "")).status, Status::empty);
  auto broken = test::png_header_only(10, 10);
  EXPECT_EQ(read_image(dir.write("broken.png", broken)).status, Status::decode_error);
}

TEST(ImageReader, ImagesCutShortAreNeverSilentlyWhole) {
  auto& dir = ClipDir::get();
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, 0, 255);
  auto cut = [&](const char* ext) {
    std::vector<std::uint8_t> bytes;
    EXPECT_TRUE(cv::imencode(ext, noise, bytes));
    const auto whole = dir.write(std::string("whole") + ext, std::string(bytes.begin(), bytes.end()));
    const auto half =
        dir.write(std::string("half") + ext, std::string(bytes.begin(), bytes.begin() + bytes.size() / 2));
    return std::make_pair(whole, half);
  };
  // libjpeg fills a JPEG's missing rows with grey: the image reads, with a warning.
  const auto [jpeg, jpeg_half] = cut(".jpg");
  EXPECT_TRUE(read_image(jpeg).warnings.empty());
  const auto r = read_image(jpeg_half);
  ASSERT_EQ(r.status, Status::ok) << r.message;
  EXPECT_EQ(r.warnings, std::vector<std::string>{"partial_decode"});
  // A JPEG carrying a thumbnail (a second SOI..EOI inside APP1) is whole.
  std::vector<std::uint8_t> thumb, main;
  cv::imencode(".jpg", noise(cv::Rect(0, 0, 8, 8)), thumb);
  cv::imencode(".jpg", noise, main);
  std::vector<std::uint8_t> app1 = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  app1.insert(app1.end(), thumb.begin(), thumb.end());
  app1[2] = static_cast<std::uint8_t>((app1.size() - 2) >> 8);
  app1[3] = static_cast<std::uint8_t>((app1.size() - 2) & 0xff);
  std::vector<std::uint8_t> with_thumb(main.begin(), main.begin() + 2);
  with_thumb.insert(with_thumb.end(), app1.begin(), app1.end());
  with_thumb.insert(with_thumb.end(), main.begin() + 2, main.end());
  const auto thumbed = read_image(dir.write("thumb.jpg", std::string(with_thumb.begin(), with_thumb.end())));
  ASSERT_EQ(thumbed.status, Status::ok) << thumbed.message;
  EXPECT_TRUE(thumbed.warnings.empty());
  with_thumb.resize(with_thumb.size() * 3 / 4);
  EXPECT_EQ(
      read_image(dir.write("thumb_cut.jpg", std::string(with_thumb.begin(), with_thumb.end()))).warnings,
      std::vector<std::string>{"partial_decode"});
  // The other formats fail to decode; a TIFF is a TIFF that failed, not an unknown format.
  for (const char* ext : {".png", ".webp", ".bmp", ".tiff"}) {
    const auto half = cut(ext).second;
    EXPECT_EQ(read_image(half).status, Status::decode_error) << ext;
  }
}

// A JPEG with an EXIF APP1 segment carrying only the orientation tag.
std::vector<std::uint8_t> jpeg_with_orientation(const cv::Mat& bgr, int orientation) {
  std::vector<std::uint8_t> jpeg;
  cv::imencode(".jpg", bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, 100});
  std::vector<std::uint8_t> tiff = {'M',  'M',  0, 42, 0, 0, 0, 8,  // big-endian, IFD at 8
                                    0,    1,                        // one entry
                                    0x01, 0x12, 0, 3,  0, 0, 0, 1, 0, static_cast<std::uint8_t>(orientation),
                                    0,    0,    0, 0,  0, 0};  // no next IFD
  std::vector<std::uint8_t> app1 = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  app1.insert(app1.end(), tiff.begin(), tiff.end());
  std::size_t len = app1.size() - 2;
  app1[2] = static_cast<std::uint8_t>(len >> 8);
  app1[3] = static_cast<std::uint8_t>(len & 0xff);
  std::vector<std::uint8_t> out(jpeg.begin(), jpeg.begin() + 2);  // SOI
  out.insert(out.end(), app1.begin(), app1.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

TEST(ImageReader, ExifOrientation) {
  auto& dir = ClipDir::get();
  // Left half red, right half blue, 40 wide and 20 tall.
  cv::Mat bgr(20, 40, CV_8UC3, cv::Scalar(0, 0, 255));
  bgr(cv::Rect(20, 0, 20, 20)).setTo(cv::Scalar(255, 0, 0));
  for (int orientation : {1, 3, 6, 8}) {
    auto bytes = jpeg_with_orientation(bgr, orientation);
    auto path =
        dir.write("exif" + std::to_string(orientation) + ".jpg", std::string(bytes.begin(), bytes.end()));
    auto r = read_image(path);
    ASSERT_EQ(r.status, Status::ok) << r.message;
    EXPECT_EQ(r.exif_orientation, orientation);
    // Compare with OpenCV's own EXIF handling (IMREAD_COLOR applies it).
    cv::Mat ref = cv::imread(path, cv::IMREAD_COLOR), ref_rgb;
    cv::cvtColor(ref, ref_rgb, cv::COLOR_BGR2RGB);
    ASSERT_EQ(r.rgb.size(), ref_rgb.size()) << orientation;
    cv::Mat diff;
    cv::absdiff(r.rgb, ref_rgb, diff);
    EXPECT_LT(cv::mean(diff)[0], 1.0) << orientation;
    if (orientation == 6) {  // rotated clockwise: red (left) ends on top
      EXPECT_EQ(r.rgb.cols, 20);
      EXPECT_GT(r.rgb.at<cv::Vec3b>(2, 10)[0], 200);
    }
  }
}

}  // namespace
}  // namespace dfscan::media
