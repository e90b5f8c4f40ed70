// Audio in the scan pipeline: window layout, the audio-spoof architecture behind dfscan::Detector
// (its scores equal the network run on the manifest's front end), and Scanner records for a wav
// file, with a small random model written at test time.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../common/scoped_temp_dir.hpp"
#include "dfscan/audio.hpp"
#include "dfscan/audio/models.hpp"
#include "dfscan/checkpoint.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/scan.hpp"
#include "scan/audio_scoring.hpp"

namespace fs = std::filesystem;
using dfscan::audio::window_spans;

namespace {

using Spans = std::vector<std::pair<std::int64_t, std::int64_t>>;

TEST(AudioWindows, FullWindowsEveryHopPlusOneEndingAtTheEnd) {
  EXPECT_EQ(window_spans(10, 4, 2), (Spans{{0, 4}, {2, 6}, {4, 8}, {6, 10}}));
  EXPECT_EQ(window_spans(11, 4, 2), (Spans{{0, 4}, {2, 6}, {4, 8}, {6, 10}, {7, 11}}));
  EXPECT_EQ(window_spans(8, 4, 4), (Spans{{0, 4}, {4, 8}}));
  EXPECT_EQ(window_spans(9, 4, 4), (Spans{{0, 4}, {4, 8}, {5, 9}}));
}

TEST(AudioWindows, ShortAudioIsOneWindowAndNoAudioNone) {
  EXPECT_EQ(window_spans(3, 4, 2), (Spans{{0, 3}}));
  EXPECT_EQ(window_spans(4, 4, 2), (Spans{{0, 4}}));
  EXPECT_TRUE(window_spans(0, 4, 2).empty());
}

// A random stats-MLP over LFCC written as an audio-spoof model file.
fs::path write_random_model(const fs::path& dir, double window_s = 2.0, double hop_s = 1.0) {
  dfscan::audio::FrontEndConfig fe;
  fe.delta_order = 2;
  dfscan::audio::ModelConfig mc;
  mc.arch = "stats-mlp";
  mc.feature_dim = dfscan::audio::feature_dim(fe);
  mc.head_hidden = {8};
  torch::manual_seed(3);
  auto model = dfscan::audio::make_model(mc);
  {
    // Running statistics of the non-affine norm away from the identity, so that loading them matters.
    torch::NoGradGuard no_grad;
    for (auto& b : model->named_buffers(true))
      if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-1.0, 1.0);
  }
  dfscan::io::StateDict weights;
  for (const auto& p : model->named_parameters(true))
    if (p.value().defined()) weights.insert(p.key(), p.value().detach());
  for (const auto& b : model->named_buffers(true))
    if (b.value().defined()) weights.insert(b.key(), b.value().detach());
  nlohmann::json manifest = {{"format", "dfscan.model/1"},
                             {"arch", "audio-spoof"},
                             {"modality", "audio"},
                             {"name", "random-audio"},
                             {"config", dfscan::audio::model_config_to_json(mc)},
                             {"input",
                              {{"sample_rate", 16000},
                               {"window_seconds", window_s},
                               {"hop_seconds", hop_s},
                               {"front_end", dfscan::audio::front_end_to_json(fe)}}},
                             {"score", {{"activation", "softmax"}, {"fake_index", 1}}},
                             {"threshold", 0.5},
                             {"faces", nullptr}};
  const auto path = dir / "random-audio.safetensors";
  dfscan::io::write_model_file(path, weights, manifest);
  return path;
}

// A chirp with a little noise, mono float in [-1, 1].
std::vector<float> test_signal(double seconds, int rate = 16000) {
  const auto n = static_cast<std::size_t>(seconds * rate);
  torch::manual_seed(5);
  auto noise = torch::randn({static_cast<int64_t>(n)}) * 0.01;
  std::vector<float> pcm(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate;
    pcm[i] = static_cast<float>(0.3 * std::sin(2 * M_PI * (200.0 + 150.0 * t) * t) + noise[i].item<float>());
  }
  return pcm;
}

void write_wav(const fs::path& path, const std::vector<float>& pcm, int rate = 16000) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](std::uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](std::uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  const auto bytes = static_cast<std::uint32_t>(pcm.size() * 2);
  out.write("RIFF", 4);
  u32(36 + bytes);
  out.write("WAVEfmt ", 8);
  u32(16);
  u16(1);
  u16(1);
  u32(static_cast<std::uint32_t>(rate));
  u32(static_cast<std::uint32_t>(rate * 2));
  u16(2);
  u16(16);
  out.write("data", 4);
  u32(bytes);
  for (float v : pcm) u16(static_cast<std::uint16_t>(static_cast<std::int16_t>(std::lround(v * 32767.0f))));
}

TEST(AudioDetector, LoadsAndScoresLikeTheNetworkOnTheManifestFrontEnd) {
  dfscan::test::ScopedTempDir dir("dfscan-audio-det");
  const auto path = write_random_model(dir.path());
  const auto d = dfscan::Detector::load(path.string(), c10::Device(c10::kCPU));
  EXPECT_EQ(d.modality(), "audio");
  EXPECT_EQ(d.arch(), "audio-spoof");

  const auto pcm = test_signal(2.0);
  const auto wave =
      torch::from_blob(const_cast<float*>(pcm.data()), {1, static_cast<int64_t>(pcm.size())}, torch::kFloat)
          .clone();
  const auto scores = d.scores(d.logits(wave));
  ASSERT_EQ(scores.numel(), 1);

  // The same network, built and loaded by hand, on features computed by hand.
  const auto file = dfscan::io::read_model_file(path);
  auto net = dfscan::audio::make_model(dfscan::audio::model_config_from_json(file.manifest["config"]));
  dfscan::io::load_into(*net, file.tensors, true);
  net->eval();
  torch::NoGradGuard no_grad;
  const auto fe = dfscan::audio::front_end_from_json(file.manifest["input"]["front_end"]);
  const auto expected =
      dfscan::audio::fake_probability(net->forward(dfscan::audio::compute_features(wave, fe)));
  EXPECT_NEAR(scores.item<double>(), expected.item<double>(), 1e-6);
}

TEST(AudioDetector, ScoreAudioGivesOneTimelineEntryPerWindow) {
  dfscan::test::ScopedTempDir dir("dfscan-audio-score");
  std::vector<dfscan::Detector> models{
      dfscan::Detector::load(write_random_model(dir.path()).string(), c10::Device(c10::kCPU))};
  dfscan::scan_audio::DecodedAudio audio;
  audio.sample_rate = 16000;
  audio.pcm = test_signal(5.5);
  const auto a = dfscan::scan_audio::score_audio(models, audio, "mean", 2, std::nullopt);
  ASSERT_EQ(a.detectors.size(), 1u);
  // 2 s windows every 1 s: 0-2, 1-3, 2-4, 3-5, and 3.5-5.5 for the tail.
  const auto& timeline = a.audio.at("timeline");
  ASSERT_EQ(timeline.size(), 5u);
  EXPECT_EQ(a.detectors[0].at("logits").size(), 5u);
  EXPECT_DOUBLE_EQ(timeline[4].at("start").get<double>(), 3.5);
  EXPECT_DOUBLE_EQ(timeline[4].at("end").get<double>(), 5.5);
  double sum = 0.0, highest = 0.0;
  for (const auto& w : timeline) {
    const double s = w.at("score").get<double>();
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, 1.0);
    sum += s;
    highest = std::max(highest, s);
  }
  EXPECT_NEAR(a.detectors[0].at("score").get<double>(), sum / 5.0, 1e-12);
  EXPECT_NEAR(a.verdicts[0].score, sum / 5.0, 1e-12);
  EXPECT_DOUBLE_EQ(a.verdicts[0].threshold, 0.5);
  const auto m = dfscan::scan_audio::score_audio(models, audio, "max", 32, 0.25);
  EXPECT_NEAR(m.verdicts[0].score, highest, 1e-6);
  EXPECT_DOUBLE_EQ(m.verdicts[0].threshold, 0.25);
}

TEST(AudioDetector, ScannerScoresAWavInWindowsWithATimeline) {
  dfscan::test::ScopedTempDir dir("dfscan-audio-scan");
  const auto model = write_random_model(dir.path());
  const auto wav = dir.path() / "speechlike.wav";
  write_wav(wav, test_signal(4.5));
  dfscan::ScanOptions options;
  options.models = {model.string()};
  options.device = "cpu";
  dfscan::Scanner scanner(options);
  const auto r = scanner.scan_one(wav.string());
  ASSERT_EQ(r.at("status"), "ok") << r.dump();
  EXPECT_EQ(r.at("modality"), "audio");
  ASSERT_TRUE(r.at("score").is_number());
  EXPECT_EQ(r.at("label"), r.at("score").get<double>() >= 0.5 ? "fake" : "real");
  ASSERT_EQ(r.at("detectors").size(), 1u);
  EXPECT_EQ(r.at("detectors")[0].at("arch"), "audio-spoof");
  // 0-2, 1-3, 2-4, 2.5-4.5
  ASSERT_EQ(r.at("timeline").size(), 4u);
  EXPECT_EQ(r.at("timeline"), r.at("audio").at("timeline"));
  EXPECT_NEAR(r.at("audio").at("duration").get<double>(), 4.5, 1e-3);
  EXPECT_EQ(r.at("audio").at("sample_rate"), 16000);
}

TEST(AudioDetector, AVideoWithOnlyAnAudioModelIsScoredByItsSoundTrack) {
  const fs::path video = fs::path(DFSCAN_SHARED_DIR) / "data" / "videos" / "stock_720p_aac.mp4";
  if (!fs::exists(video)) GTEST_SKIP() << "no shared video with an audio track";
  dfscan::test::ScopedTempDir dir("dfscan-audio-video");
  dfscan::ScanOptions options;
  options.models = {write_random_model(dir.path()).string()};
  options.device = "cpu";
  dfscan::Scanner scanner(options);
  const auto r = scanner.scan_one(video.string());
  ASSERT_EQ(r.at("status"), "ok") << r.dump();
  EXPECT_EQ(r.at("modality"), "video+audio");
  EXPECT_TRUE(r.at("score").is_number());
  EXPECT_FALSE(r.at("audio").at("timeline").empty());
}

}  // namespace
