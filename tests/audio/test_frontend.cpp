// Front-end parity with torchaudio 0.13 (fixture written by scripts/audio-frontend-fixtures.py)
// and behaviour of CMVN, deltas and silence trimming.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "dfscan/audio.hpp"
#include "dfscan/checkpoint.hpp"
#include "dfscan/status.hpp"

namespace fs = std::filesystem;
using namespace dfscan::audio;

namespace {

const fs::path kFixture = fs::path(DFSCAN_SOURCE_DIR) / "tests" / "data" / "audio" / "frontends.pth";

struct Case {
  const char* name;
  FrontEndConfig config;
};

FrontEndConfig make(FeatureKind kind, int n_fft, int win, int hop) {
  FrontEndConfig c;
  c.kind = kind;
  c.n_fft = n_fft;
  c.win_length = win;
  c.hop_length = hop;
  return c;
}

// Mirrors the cases in scripts/audio-frontend-fixtures.py.
std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({"spec_power2", make(FeatureKind::spectrogram, 512, 400, 160)});
  auto mag = make(FeatureKind::spectrogram, 256, 0, 100);
  mag.power = 1.0;
  mag.normalized = true;
  out.push_back({"spec_mag_norm", mag});
  out.push_back({"spec_db", make(FeatureKind::log_spectrogram, 512, 400, 160)});
  auto nocenter = make(FeatureKind::spectrogram, 400, 0, 160);
  nocenter.center = false;
  out.push_back({"spec_nocenter", nocenter});
  auto mel = make(FeatureKind::mel, 512, 400, 160);
  mel.n_filters = 64;
  mel.f_min = 20.0;
  mel.f_max = 7600.0;
  out.push_back({"mel", mel});
  auto logmel = mel;
  logmel.kind = FeatureKind::log_mel;
  out.push_back({"logmel_db", logmel});
  auto slaney = make(FeatureKind::log_mel, 400, 0, 160);
  slaney.n_filters = 40;
  slaney.mel_scale = MelScale::slaney;
  slaney.slaney_norm = true;
  slaney.top_db = -1.0;
  out.push_back({"logmel_slaney", slaney});
  auto mfcc = make(FeatureKind::mfcc, 512, 400, 160);
  mfcc.n_filters = 40;
  mfcc.n_coeffs = 20;
  out.push_back({"mfcc", mfcc});
  auto mfcc_log = make(FeatureKind::mfcc, 400, 0, 160);
  mfcc_log.n_filters = 23;
  mfcc_log.n_coeffs = 13;
  mfcc_log.log_filters = true;
  out.push_back({"mfcc_logmels", mfcc_log});
  auto lfcc = make(FeatureKind::lfcc, 512, 320, 160);
  out.push_back({"lfcc", lfcc});
  auto lfcc_d = lfcc;
  lfcc_d.delta_order = 2;
  out.push_back({"lfcc_deltas", lfcc_d});
  auto lfcc_log = make(FeatureKind::lfcc, 512, 400, 200);
  lfcc_log.n_filters = 30;
  lfcc_log.n_coeffs = 15;
  lfcc_log.log_filters = true;
  lfcc_log.f_min = 50.0;
  lfcc_log.f_max = 7000.0;
  out.push_back({"lfcc_log", lfcc_log});
  return out;
}

// max |a - b| / max |b|: the parity criterion (1e-4).
double relative_error(const torch::Tensor& got, const torch::Tensor& want) {
  auto diff = (got.to(torch::kDouble) - want.to(torch::kDouble)).abs().max().item<double>();
  return diff / std::max(want.to(torch::kDouble).abs().max().item<double>(), 1e-30);
}

void check_parity(const torch::Device& device) {
  if (!fs::exists(kFixture)) GTEST_SKIP() << "missing " << kFixture;
  auto fixture = dfscan::io::read_pth(kFixture);
  auto wave = fixture.at("wave").to(device);
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    auto want = fixture.at(c.name);
    ASSERT_EQ(feature_dim(c.config), want.size(1));
    ASSERT_EQ(frame_count(c.config, wave.size(1)), want.size(2));
    auto batched = compute_features(wave, c.config).cpu();  // [1, N] in -> [1, F, T] out
    ASSERT_EQ(batched.sizes(), want.sizes());
    EXPECT_LT(relative_error(batched, want), 1e-4);
    auto single = compute_features(wave[0], c.config).cpu();  // [N] in -> [F, T] out
    EXPECT_LT(relative_error(single, want[0]), 1e-4);
  }
}

}  // namespace

TEST(AudioFrontEnd, MatchesTorchaudioOnCpu) {
  check_parity(torch::kCPU);
}

TEST(AudioFrontEnd, MatchesTorchaudioOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  check_parity(torch::kCUDA);
}

TEST(AudioFrontEnd, BatchRowsAreIndependentUtterances) {
  torch::manual_seed(3);
  auto a = torch::randn({8000}) * 0.1, b = torch::randn({8000}) * 0.001;
  FrontEndConfig c;  // LFCC in dB: the top_db clamp is per utterance
  auto both = compute_features(torch::stack({a, b}), c);
  EXPECT_TRUE(torch::allclose(both[0], compute_features(a, c), 1e-5, 1e-4));
  EXPECT_TRUE(torch::allclose(both[1], compute_features(b, c), 1e-5, 1e-4));
}

TEST(AudioFrontEnd, CmvnGivesZeroMeanUnitVariancePerRow) {
  torch::manual_seed(4);
  FrontEndConfig c;
  c.cmvn = true;
  c.delta_order = 1;
  auto f = compute_features(torch::randn({16000}) * 0.2 + 0.01, c);
  EXPECT_EQ(f.size(0), 40);
  EXPECT_LT(f.mean(1).abs().max().item<double>(), 1e-4);
  EXPECT_LT((f.pow(2).mean(1) - 1.0).abs().max().item<double>(), 1e-3);
}

TEST(AudioFrontEnd, DeltasOfALinearRampAreItsSlope) {
  auto ramp = torch::arange(0, 50, torch::kFloat).mul(0.5).unsqueeze(0);
  auto d = compute_deltas(ramp, 5);
  // Interior frames see the exact slope; the replicate-padded edges see less.
  EXPECT_TRUE(torch::allclose(d.slice(1, 2, 48), torch::full({1, 46}, 0.5f), 1e-5, 1e-6));
  EXPECT_LT(d[0][0].item<float>(), 0.5f);
}

TEST(AudioFrontEnd, TrimSilenceKeepsTheVoicedStretch) {
  torch::manual_seed(5);
  const int sr = 16000;
  auto wave = torch::zeros({sr * 2});
  wave.slice(0, 8000, 24000) = torch::randn({16000}) * 0.3;  // voiced from 0.5 s to 1.5 s
  wave += torch::randn({sr * 2}) * 1e-5;                     // a faint floor, 80 dB down
  auto trimmed = trim_silence(wave, sr);
  EXPECT_GE(trimmed.size(0), 16000);
  EXPECT_LE(trimmed.size(0), 16000 + 2 * 800 + 2 * 400 + 200);  // margins plus one frame of slack
  EXPECT_EQ(trim_silence(torch::zeros({sr}), sr).size(0), 0);
  EXPECT_EQ(trim_silence(torch::ones({10}), sr).size(0), 10);  // shorter than a frame
}

TEST(AudioFrontEnd, RejectsBadConfigurationsWithOneLineErrors) {
  FrontEndConfig c;
  c.n_coeffs = 30;  // more than 20 filters
  EXPECT_THROW(compute_features(torch::zeros({4000}), c), dfscan::Error);
  c = FrontEndConfig{};
  c.f_max = 9000.0;
  EXPECT_THROW(validate(c), dfscan::Error);
  c = FrontEndConfig{};
  EXPECT_THROW(compute_features(torch::zeros({100}), c), dfscan::Error);  // too short to reflect-pad
  EXPECT_THROW(compute_features(torch::zeros({2, 2, 4000}), c), dfscan::Error);
  EXPECT_THROW(parse_feature_kind("cqcc"), dfscan::Error);
  EXPECT_EQ(parse_feature_kind(feature_kind_name(FeatureKind::log_mel)), FeatureKind::log_mel);
}
