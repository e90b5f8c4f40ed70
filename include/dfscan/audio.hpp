#pragma once
// Audio front ends for spoofing detection: linear/log spectrogram, (log-)mel, MFCC and LFCC, as
// torchaudio 0.13 computes them, plus deltas, utterance CMVN and energy-based silence trimming.
// Everything runs on the waveform's device (CPU or CUDA).
#include <ATen/Tensor.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

namespace dfscan::audio {

enum class FeatureKind {
  spectrogram,      // |STFT|^power
  log_spectrogram,  // spectrogram in dB (AmplitudeToDB)
  mel,              // MelSpectrogram
  log_mel,          // MelSpectrogram in dB
  mfcc,             // torchaudio MFCC
  lfcc,             // torchaudio LFCC
};

enum class MelScale { htk, slaney };

// Parses "spectrogram", "log-spectrogram", "mel", "log-mel", "mfcc", "lfcc"; throws dfscan::Error.
FeatureKind parse_feature_kind(const std::string& name);
std::string feature_kind_name(FeatureKind kind);

struct FrontEndConfig {
  FeatureKind kind = FeatureKind::lfcc;
  int sample_rate = 16000;
  int n_fft = 512;
  int win_length = 320;  // 0: n_fft
  int hop_length = 160;  // 0: win_length / 2
  bool center = true;    // reflect-pad n_fft/2 on both sides, as torch.stft(center=True)
  double power = 2.0;    // spectrogram kinds only; the mel/MFCC/LFCC kinds always use power 2
  bool normalized = false;
  int n_filters = 20;  // mel bands (mel kinds, MFCC) or linear filters (LFCC)
  int n_coeffs = 20;   // MFCC/LFCC coefficients (orthonormal DCT-II)
  double f_min = 0.0;
  double f_max = 0.0;  // 0: sample_rate / 2 (integer division, as torchaudio)
  MelScale mel_scale = MelScale::htk;
  bool slaney_norm = false;  // mel filter area normalisation
  bool log_filters = false;  // MFCC/LFCC: log(x + 1e-6) instead of dB (log_mels / log_lf)
  double top_db = 80.0;      // dB kinds; negative disables the clamp
  int delta_order = 0;       // 0, 1 or 2: append torchaudio compute_deltas of the features
  int delta_window = 5;
  bool cmvn = false;  // per-utterance mean/variance normalisation over time, last step
};

// Checks the configuration; throws dfscan::Error naming the bad field.
void validate(const FrontEndConfig& config);

// Every field as JSON (the form model manifests store), and back. Missing fields keep their
// defaults; unknown kinds or scales throw dfscan::Error.
nlohmann::json front_end_to_json(const FrontEndConfig& config);
FrontEndConfig front_end_from_json(const nlohmann::json& json);

// Features per frame (including deltas).
int feature_dim(const FrontEndConfig& config);

// Frames produced for `samples` input samples.
int frame_count(const FrontEndConfig& config, long samples);

// waveform: [N] or [B, N] float -> [F, frames] or [B, F, frames], on the waveform's device.
// The dB top_db clamp is applied per utterance (torchaudio clamps over the whole batch for a
// [B, N] input; for one utterance both agree).
at::Tensor compute_features(const at::Tensor& waveform, const FrontEndConfig& config);

// Subtracts the mean over the last dimension and divides by the standard deviation (biased,
// floored at 1e-5) of each feature row.
at::Tensor apply_cmvn(const at::Tensor& features);

// torchaudio.functional.compute_deltas: regression deltas over the last dimension with
// replicate padding.
at::Tensor compute_deltas(const at::Tensor& features, int window = 5);

// [start, end) sample spans of analysis windows over `samples` samples, as the scanner scores audio:
// one every `hop` while a whole window fits, plus one that ends at the last sample when those miss
// the tail. Audio shorter than a window is one window over all of it; no samples, no window.
std::vector<std::pair<std::int64_t, std::int64_t>> window_spans(std::int64_t samples, std::int64_t window,
                                                                std::int64_t hop);

struct VadOptions {
  double frame_ms = 25.0;
  double hop_ms = 10.0;
  double threshold_db = -40.0;  // frames quieter than the loudest frame by more than this are silence
  double keep_ms = 50.0;        // margin kept before the first and after the last voiced frame
};

// Trims leading and trailing silence from a [N] waveform by frame energy relative to the loudest
// frame. Returns the input unchanged when it is shorter than a frame, and an empty tensor when
// every frame is digital silence.
at::Tensor trim_silence(const at::Tensor& waveform, int sample_rate, const VadOptions& options = {});

}  // namespace dfscan::audio
