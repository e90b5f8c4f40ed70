// Every input the fuzzer once crashed on (tests/media/data/fuzz) goes through all readers, from
// a file and from memory, and must come back with a status instead of a sanitizer report.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "dfscan/media.hpp"
#include "media/detail.hpp"

namespace dfscan::media {
namespace {

namespace fs = std::filesystem;

TEST(FuzzRegressions, EveryCrashInputGetsAStatus) {
  fs::path dir = fs::path(DFSCAN_TEST_DATA_DIR) / "fuzz";
  ASSERT_TRUE(fs::is_directory(dir));
  int inputs = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().filename().string());
    ++inputs;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The fuzzer's settings (tests/fuzz/fuzz_media.cpp): some finds need its single decoding thread.
    Limits limits;
    limits.max_pixels = 4096 * 4096;
    limits.deadline_seconds = 10;
    detail::Input input{"memory", reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
    auto p = detail::probe_input(input, limits);
    EXPECT_EQ(p.status, probe(entry.path().string(), limits).status);
    VideoOptions video;
    video.limits = limits;
    video.threads = 1;
    detail::read_video_input(
        input, FrameSelection::uniform(3), [](Frame&&) { return true; }, video);
    AudioOptions audio;
    audio.limits = limits;
    audio.window = 4096;
    audio.max_seconds = 30.0;
    detail::read_audio_input(
        input, [](const float*, std::size_t, double) { return true; }, audio);
    auto image = read_image(entry.path().string(), limits);
    EXPECT_FALSE(image.message.empty() && image.status != Status::ok);
  }
  EXPECT_GT(inputs, 0);
}

// The first find: a PNG header claiming 4294967295 x 4294967295 overflowed width * height.
TEST(FuzzRegressions, HugeHeaderIsTooLargeWithoutOverflow) {
  auto path = std::string(DFSCAN_TEST_DATA_DIR) + "/fuzz/png-ihdr-4294967295-squared.png";
  EXPECT_EQ(probe(path).status, Status::too_large);
  EXPECT_EQ(read_image(path).status, Status::too_large);
  EXPECT_TRUE(detail::over_pixel_limit(4294967295LL, 4294967295LL, 100'000'000));
  EXPECT_FALSE(detail::over_pixel_limit(10000, 10000, 100'000'000));
  EXPECT_TRUE(detail::over_pixel_limit(10000, 10001, 100'000'000));
}

// The second: a wav header claiming 791 MHz made swr_init run for minutes.
TEST(FuzzRegressions, AbsurdSampleRateFailsFast) {
  auto path = std::string(DFSCAN_TEST_DATA_DIR) + "/fuzz/wav-rate-791mhz-swr-init-hang.wav";
  auto t0 = std::chrono::steady_clock::now();
  auto r = read_audio(path);
  EXPECT_EQ(r.status, Status::decode_error) << r.message;
  EXPECT_NE(r.message.find("sample rate"), std::string::npos) << r.message;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
}

// The fourth: an 81-byte WAV whose INFO tag claims gigabytes. FFmpeg's demuxer allocated and
// zero-filled what the tag claimed (2.3 GB, 9 s); av_max_alloc now refuses such an allocation.
TEST(FuzzRegressions, HeaderClaimsDoNotBecomeAllocations) {
  auto path = std::string(DFSCAN_TEST_DATA_DIR) + "/fuzz/wav-info-tag-claims-gigabytes.wav";
  const auto r = read_audio(path);
  EXPECT_NE(r.status, Status::ok);
  EXPECT_FALSE(r.message.empty());
  (void)probe(path);
  rusage usage{};
  ASSERT_EQ(getrusage(RUSAGE_SELF, &usage), 0);
  // The peak of the whole test process, in KiB: the old behaviour alone went past 2 GiB.
  EXPECT_LT(usage.ru_maxrss, 1L << 20) << "peak resident size " << usage.ru_maxrss / 1024 << " MiB";
}

}  // namespace
}  // namespace dfscan::media
