// Front ends that reproduce torchaudio 0.13 (Spectrogram, MelSpectrogram, MFCC, LFCC,
// AmplitudeToDB, compute_deltas) operation by operation, so float32 results agree to round-off.
#include <torch/torch.h>

#include <cmath>

#include "dfscan/audio.hpp"
#include "dfscan/status.hpp"

namespace dfscan::audio {
namespace {

int effective_win(const FrontEndConfig& c) {
  return c.win_length > 0 ? c.win_length : c.n_fft;
}
int effective_hop(const FrontEndConfig& c) {
  return c.hop_length > 0 ? c.hop_length : std::max(1, effective_win(c) / 2);
}
double effective_fmax(const FrontEndConfig& c) {
  return c.f_max > 0.0 ? c.f_max : static_cast<double>(c.sample_rate / 2);
}

double hz_to_mel(double hz, MelScale scale) {
  if (scale == MelScale::htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0;
  const double min_log_mel = min_log_hz / f_sp, logstep = std::log(6.4) / 27.0;
  if (hz >= min_log_hz) return min_log_mel + std::log(hz / min_log_hz) / logstep;
  return hz / f_sp;
}

torch::Tensor mel_to_hz(const torch::Tensor& mels, MelScale scale) {
  if (scale == MelScale::htk) return 700.0 * (torch::pow(10.0, mels / 2595.0) - 1.0);
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0;
  const double min_log_mel = min_log_hz / f_sp, logstep = std::log(6.4) / 27.0;
  auto linear = 0.0 + f_sp * mels;
  auto logpart = min_log_hz * torch::exp(logstep * (mels - min_log_mel));
  return torch::where(mels >= min_log_mel, logpart, linear);
}

// Columns are triangular filters with corners at f_pts, rows are FFT bins at all_freqs.
torch::Tensor triangular_filterbank(const torch::Tensor& all_freqs, const torch::Tensor& f_pts) {
  const auto n = f_pts.size(0);
  auto f_diff = f_pts.slice(0, 1) - f_pts.slice(0, 0, n - 1);
  auto slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1);
  auto down = (-1.0 * slopes.slice(1, 0, n - 2)) / f_diff.slice(0, 0, n - 2);
  auto up = slopes.slice(1, 2) / f_diff.slice(0, 1);
  return torch::max(torch::zeros({1}), torch::min(down, up));
}

torch::Tensor fft_bin_freqs(const FrontEndConfig& c) {
  return torch::linspace(0.0, static_cast<double>(c.sample_rate / 2), c.n_fft / 2 + 1);
}

torch::Tensor mel_filterbank(const FrontEndConfig& c) {
  const double m_min = hz_to_mel(c.f_min, c.mel_scale), m_max = hz_to_mel(effective_fmax(c), c.mel_scale);
  auto f_pts = mel_to_hz(torch::linspace(m_min, m_max, c.n_filters + 2), c.mel_scale);
  auto fb = triangular_filterbank(fft_bin_freqs(c), f_pts);
  if (c.slaney_norm) {
    auto enorm = 2.0 / (f_pts.slice(0, 2, c.n_filters + 2) - f_pts.slice(0, 0, c.n_filters));
    fb = fb * enorm.unsqueeze(0);
  }
  return fb;
}

torch::Tensor linear_filterbank(const FrontEndConfig& c) {
  auto f_pts = torch::linspace(c.f_min, effective_fmax(c), c.n_filters + 2);
  return triangular_filterbank(fft_bin_freqs(c), f_pts);
}

// [n_filters, n_coeffs] orthonormal DCT-II matrix (torchaudio create_dct with norm="ortho").
torch::Tensor dct_matrix(int n_coeffs, int n_filters) {
  auto n = torch::arange(static_cast<double>(n_filters), torch::kFloat);
  auto k = torch::arange(static_cast<double>(n_coeffs), torch::kFloat).unsqueeze(1);
  auto dct = torch::cos(M_PI / static_cast<double>(n_filters) * (n + 0.5) * k);
  dct[0] *= 1.0 / std::sqrt(2.0);
  dct *= std::sqrt(2.0 / static_cast<double>(n_filters));
  return dct.t();
}

// [B, N] -> [B, n_fft/2+1, frames] |STFT|^power.
torch::Tensor spectrogram(const torch::Tensor& wave, const FrontEndConfig& c, double power) {
  auto x = wave;
  if (c.center) {
    const int64_t pad = c.n_fft / 2;
    if (x.size(-1) <= pad)
      throw Error(Status::error, "audio front end: " + std::to_string(x.size(-1)) +
                                     " samples are too few for reflect padding of " + std::to_string(pad));
    x = torch::reflection_pad1d(x.unsqueeze(1), {pad, pad}).squeeze(1);
  } else if (x.size(-1) < c.n_fft) {
    throw Error(Status::error, "audio front end: " + std::to_string(x.size(-1)) +
                                   " samples are fewer than n_fft " + std::to_string(c.n_fft));
  }
  const int win = effective_win(c);
  auto window = torch::hann_window(win, torch::TensorOptions().dtype(x.scalar_type()).device(x.device()));
  auto spec = torch::stft(x, c.n_fft, effective_hop(c), win, window, /*normalized=*/false, /*onesided=*/true,
                          /*return_complex=*/true);
  if (c.normalized) spec = spec / window.pow(2.0).sum().sqrt();
  if (power == 1.0) return spec.abs();
  return spec.abs().pow(power);
}

// AmplitudeToDB with ref 1.0, clamped to (max - top_db) per utterance (dim 0 = utterance).
torch::Tensor to_db(const torch::Tensor& x, double multiplier, double top_db) {
  auto db = multiplier * torch::log10(torch::clamp(x, 1e-10));
  if (top_db >= 0.0) {
    auto peak = std::get<0>(db.flatten(1).max(1)).view({-1, 1, 1});
    db = torch::max(db, peak - top_db);
  }
  return db;
}

torch::Tensor apply_filters(const torch::Tensor& spec, const torch::Tensor& fb) {
  return torch::matmul(spec.transpose(-1, -2), fb.to(spec.device())).transpose(-1, -2);
}

}  // namespace

FeatureKind parse_feature_kind(const std::string& name) {
  if (name == "spectrogram") return FeatureKind::spectrogram;
  if (name == "log-spectrogram") return FeatureKind::log_spectrogram;
  if (name == "mel") return FeatureKind::mel;
  if (name == "log-mel") return FeatureKind::log_mel;
  if (name == "mfcc") return FeatureKind::mfcc;
  if (name == "lfcc") return FeatureKind::lfcc;
  throw Error(Status::error, "unknown audio feature kind '" + name +
                                 "' (expected spectrogram, log-spectrogram, mel, log-mel, mfcc or lfcc)");
}

std::string feature_kind_name(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::spectrogram:
      return "spectrogram";
    case FeatureKind::log_spectrogram:
      return "log-spectrogram";
    case FeatureKind::mel:
      return "mel";
    case FeatureKind::log_mel:
      return "log-mel";
    case FeatureKind::mfcc:
      return "mfcc";
    case FeatureKind::lfcc:
      return "lfcc";
  }
  return "unknown";
}

void validate(const FrontEndConfig& c) {
  auto bad = [](const std::string& what) { throw Error(Status::error, "audio front end: " + what); };
  if (c.sample_rate <= 0) bad("sample_rate must be positive");
  if (c.n_fft < 2) bad("n_fft must be at least 2");
  if (c.win_length < 0 || effective_win(c) > c.n_fft) bad("win_length must be in 1..n_fft (0 = n_fft)");
  if (c.hop_length < 0) bad("hop_length must not be negative");
  if (!(c.power > 0.0)) bad("power must be positive");
  const bool filtered = c.kind != FeatureKind::spectrogram && c.kind != FeatureKind::log_spectrogram;
  if (filtered && c.n_filters < 1) bad("n_filters must be positive");
  if ((c.kind == FeatureKind::mfcc || c.kind == FeatureKind::lfcc) &&
      (c.n_coeffs < 1 || c.n_coeffs > c.n_filters))
    bad("n_coeffs must be in 1..n_filters");
  if (c.f_min < 0.0 || effective_fmax(c) <= c.f_min || effective_fmax(c) > c.sample_rate / 2.0)
    bad("need 0 <= f_min < f_max <= sample_rate/2");
  if (c.delta_order < 0 || c.delta_order > 2) bad("delta_order must be 0, 1 or 2");
  if (c.delta_window < 3) bad("delta_window must be at least 3");
}

int feature_dim(const FrontEndConfig& c) {
  int base = 0;
  switch (c.kind) {
    case FeatureKind::spectrogram:
    case FeatureKind::log_spectrogram:
      base = c.n_fft / 2 + 1;
      break;
    case FeatureKind::mel:
    case FeatureKind::log_mel:
      base = c.n_filters;
      break;
    case FeatureKind::mfcc:
    case FeatureKind::lfcc:
      base = c.n_coeffs;
      break;
  }
  return base * (1 + c.delta_order);
}

int frame_count(const FrontEndConfig& c, long samples) {
  const long padded = c.center ? samples + 2L * (c.n_fft / 2) : samples;
  if (padded < c.n_fft) return 0;
  return static_cast<int>((padded - c.n_fft) / effective_hop(c) + 1);
}

at::Tensor compute_deltas(const at::Tensor& features, int window) {
  const auto shape = features.sizes().vec();
  auto x = features.reshape({1, -1, shape.back()});
  const int64_t n = (window - 1) / 2;
  const double denom = static_cast<double>(n * (n + 1) * (2 * n + 1)) / 3.0;
  x = torch::replication_pad1d(x, {n, n});
  auto kernel = torch::arange(-n, n + 1, 1, x.options()).repeat({x.size(1), 1, 1});
  auto out = torch::conv1d(x, kernel, torch::Tensor(), at::IntArrayRef{1}, at::IntArrayRef{0},
                           at::IntArrayRef{1}, x.size(1)) /
             denom;
  return out.reshape(shape);
}

at::Tensor apply_cmvn(const at::Tensor& features) {
  auto mean = features.mean(-1, true);
  auto std = (features - mean).pow(2).mean(-1, true).sqrt().clamp_min(1e-5);
  return (features - mean) / std;
}

at::Tensor compute_features(const at::Tensor& waveform, const FrontEndConfig& c) {
  validate(c);
  if (waveform.dim() != 1 && waveform.dim() != 2)
    throw Error(Status::error, "audio front end: waveform must be [N] or [B, N], got " +
                                   std::to_string(waveform.dim()) + " dimensions");
  if (!waveform.is_floating_point())
    throw Error(Status::error, "audio front end: waveform must be floating point");
  const bool single = waveform.dim() == 1;
  auto wave = single ? waveform.unsqueeze(0) : waveform;
  wave = wave.to(torch::kFloat).contiguous();

  torch::Tensor feats;
  switch (c.kind) {
    case FeatureKind::spectrogram:
      feats = spectrogram(wave, c, c.power);
      break;
    case FeatureKind::log_spectrogram:
      feats = to_db(spectrogram(wave, c, c.power), c.power == 1.0 ? 20.0 : 10.0, c.top_db);
      break;
    case FeatureKind::mel:
      feats = apply_filters(spectrogram(wave, c, 2.0), mel_filterbank(c));
      break;
    case FeatureKind::log_mel:
      feats = to_db(apply_filters(spectrogram(wave, c, 2.0), mel_filterbank(c)), 10.0, c.top_db);
      break;
    case FeatureKind::mfcc:
    case FeatureKind::lfcc: {
      auto fb = c.kind == FeatureKind::mfcc ? mel_filterbank(c) : linear_filterbank(c);
      auto filtered = apply_filters(spectrogram(wave, c, 2.0), fb);
      filtered = c.log_filters ? torch::log(filtered + 1e-6) : to_db(filtered, 10.0, c.top_db);
      feats = apply_filters(filtered, dct_matrix(c.n_coeffs, c.n_filters));
      break;
    }
  }
  if (c.delta_order > 0) {
    std::vector<torch::Tensor> parts{feats};
    for (int i = 0; i < c.delta_order; ++i) parts.push_back(compute_deltas(parts.back(), c.delta_window));
    feats = torch::cat(parts, 1);
  }
  if (c.cmvn) feats = apply_cmvn(feats);
  return single ? feats.squeeze(0) : feats;
}

at::Tensor trim_silence(const at::Tensor& waveform, int sample_rate, const VadOptions& o) {
  if (waveform.dim() != 1) throw Error(Status::error, "trim_silence: waveform must be [N]");
  const int64_t frame = std::max<int64_t>(1, std::lround(o.frame_ms * sample_rate / 1000.0));
  const int64_t hop = std::max<int64_t>(1, std::lround(o.hop_ms * sample_rate / 1000.0));
  const int64_t n = waveform.size(0);
  if (n < frame) return waveform;
  auto frames = waveform.to(torch::kFloat).unfold(0, frame, hop);  // [frames, frame]
  auto energy = frames.pow(2).mean(1);
  const double peak = energy.max().item<double>();
  if (peak <= 0.0) return waveform.slice(0, 0, 0);
  auto voiced = (10.0 * torch::log10(energy.clamp_min(1e-20) / peak) > o.threshold_db).nonzero().flatten();
  const int64_t first = voiced[0].item<int64_t>(), last = voiced[-1].item<int64_t>();
  const int64_t keep = std::lround(o.keep_ms * sample_rate / 1000.0);
  const int64_t begin = std::max<int64_t>(0, first * hop - keep);
  const int64_t end = std::min<int64_t>(n, last * hop + frame + keep);
  return waveform.slice(0, begin, end);
}

}  // namespace dfscan::audio
