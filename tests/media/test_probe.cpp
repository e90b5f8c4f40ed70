#include <gtest/gtest.h>

#include <fstream>

#include "clips.hpp"
#include "dfscan/media.hpp"
#include "media/detail.hpp"

namespace dfscan::media {
namespace {

using test::ClipDir;

TEST(Probe, VideoWithAudio) {
  DFSCAN_REQUIRE_FFMPEG();
  auto clip = ClipDir::get().clip("h264.mp4");
  ASSERT_FALSE(clip.empty());
  auto p = probe(clip);
  ASSERT_EQ(p.status, Status::ok) << p.message;
  EXPECT_EQ(p.modality, Modality::video_audio);
  EXPECT_STREQ(to_string(p.modality), "video+audio");
  EXPECT_EQ(p.video_codec, "h264");
  EXPECT_EQ(p.audio_codec, "aac");
  EXPECT_EQ(p.frames, 50);
  EXPECT_EQ(p.frames_header.value_or(-1), 50);
  EXPECT_EQ(p.width, 320);
  EXPECT_EQ(p.height, 240);
  EXPECT_NEAR(p.fps.value_or(0), 25.0, 1e-9);
  EXPECT_EQ(p.audio_rate, 44100);
  EXPECT_EQ(p.audio_channels, 1);
  EXPECT_TRUE(p.warnings.empty());
}

TEST(Probe, ModalityByContentNotExtension) {
  DFSCAN_REQUIRE_FFMPEG();
  auto& dir = ClipDir::get();
  auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  auto wav_as_mp4 = dir.write("sound.mp4", read(dir.clip("tone.wav")));
  EXPECT_EQ(probe(wav_as_mp4).modality, Modality::audio);
  auto png_as_mp3 = dir.write("picture.mp3", read(dir.clip("still.png")));
  auto p = probe(png_as_mp3);
  EXPECT_EQ(p.status, Status::ok) << p.message;
  EXPECT_EQ(p.modality, Modality::image);
  EXPECT_EQ(p.width, 64);
  EXPECT_EQ(probe(dir.clip("still.jpg")).modality, Modality::image);
  EXPECT_EQ(probe(dir.clip("mpeg4.avi")).modality, Modality::video);
  EXPECT_EQ(probe(dir.clip("single_frame.mp4")).modality, Modality::video);
}

TEST(Probe, BrokenInputsGetTypedStatuses) {
  DFSCAN_REQUIRE_FFMPEG();
  auto& dir = ClipDir::get();
  EXPECT_EQ(probe(dir.write("zero.mp4", "")).status, Status::empty);
  std::string noise(64 * 1024, '\0');
  std::uint32_t x = 12345;
  for (auto& c : noise) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  EXPECT_EQ(probe(dir.write("noise.bin", noise)).status, Status::unsupported);
  EXPECT_EQ(probe(dir.write("notes.mp4", "not a video at all\n")).status, Status::unsupported);
  auto trunc = probe(dir.truncated("h264_faststart.mp4", "half_faststart.mp4", 0.5));
  EXPECT_EQ(trunc.status, Status::truncated) << trunc.message;
  EXPECT_EQ(trunc.video_codec, "h264");  // what could be read is still reported
  auto no_moov = probe(dir.truncated("h264.mp4", "half.mp4", 0.5));
  EXPECT_EQ(no_moov.status, Status::decode_error);
  EXPECT_NE(no_moov.message.find("moov"), std::string::npos) << no_moov.message;
  // FFmpeg's log prefix carries an address, which would differ between two runs over the same file.
  EXPECT_EQ(no_moov.message.find(" @ 0x"), std::string::npos) << no_moov.message;
  auto big = probe(dir.write("big.png", test::png_header_only(100000, 100000)));
  EXPECT_EQ(big.status, Status::too_large) << big.message;
  EXPECT_EQ(probe(dir.write("silence.wav", test::empty_wav())).status, Status::empty);
  auto d = probe(dir.path().string());
  EXPECT_EQ(d.status, Status::error);
  EXPECT_NE(d.message.find("is a directory"), std::string::npos);
  EXPECT_EQ(probe((dir.path() / "absent.mp4").string()).status, Status::not_found);
}

TEST(Probe, MemoryInputMatchesFile) {
  DFSCAN_REQUIRE_FFMPEG();
  auto clip = ClipDir::get().clip("vp9.webm");
  ASSERT_FALSE(clip.empty());
  std::ifstream in(clip, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  detail::Input input{"memory", reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
  auto from_memory = detail::probe_input(input, {});
  auto from_file = probe(clip);
  ASSERT_EQ(from_memory.status, Status::ok) << from_memory.message;
  EXPECT_EQ(from_memory.frames, from_file.frames);
  EXPECT_EQ(from_memory.video_codec, "vp9");
  auto video = detail::read_video_input(input, FrameSelection::uniform(5), [](Frame&&) { return true; }, {});
  EXPECT_EQ(video.status, Status::ok) << video.message;
}

}  // namespace
}  // namespace dfscan::media
