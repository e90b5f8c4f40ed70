#include "scan/audio_scoring.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dfscan::scan_audio {
namespace {

double input_number(const Detector& d, const char* key, double fallback) {
  const auto& input = d.manifest().at("input");
  return input.contains(key) ? input.at(key).get<double>() : fallback;
}

}  // namespace

int models_sample_rate(const std::vector<Detector>& models) {
  int rate = 0;
  for (const auto& d : models) {
    const int r = static_cast<int>(input_number(d, "sample_rate", 16000));
    if (r <= 0) throw Error(Status::error, "audio model '" + d.name() + "' has a bad sample_rate");
    if (rate != 0 && r != rate)
      throw Error(Status::error, "audio models disagree on the sample rate (" + std::to_string(rate) +
                                     " and " + std::to_string(r) + " Hz); scan them in separate runs");
    rate = r;
  }
  return rate;
}

DecodedAudio decode_audio(const std::string& path, int sample_rate, const media::Limits& limits) {
  media::AudioOptions options;
  options.limits = limits;
  options.sample_rate = sample_rate;
  auto result = media::read_audio(path, options);
  DecodedAudio out;
  out.status = result.status;
  out.message = result.message;
  out.warnings = result.warnings;
  out.sample_rate = sample_rate;
  out.pcm = std::move(result.pcm);
  if (out.status == Status::ok && out.pcm.empty()) {
    out.status = Status::empty;
    out.message = "the audio stream holds no samples";
  }
  return out;
}

AudioScores score_audio(const std::vector<Detector>& models, const DecodedAudio& audio,
                        const std::string& aggregate, int batch, std::optional<double> threshold) {
  AudioScores out;
  if (models.empty() || !audio.decoded()) return out;
  torch::NoGradGuard no_grad;
  const auto n = static_cast<std::int64_t>(audio.pcm.size());
  const auto wave = torch::from_blob(const_cast<float*>(audio.pcm.data()), {n}, torch::kFloat);
  const double rate = audio.sample_rate;
  const bool use_max = aggregate == "max";
  batch = std::max(1, batch);

  std::vector<std::pair<std::int64_t, std::int64_t>> first_spans;
  std::vector<double> timeline_sum;
  int timeline_models = 0;
  for (const auto& d : models) {
    const double window_s = input_number(d, "window_seconds", 2.0);
    const double hop_s = input_number(d, "hop_seconds", window_s);
    if (window_s <= 0 || hop_s <= 0)
      throw Error(Status::error, "audio model '" + d.name() + "' has a bad window or hop");
    const auto spans = audio::window_spans(n, std::llround(window_s * rate), std::llround(hop_s * rate));
    std::vector<at::Tensor> windows;
    for (const auto& [begin, end] : spans) windows.push_back(wave.slice(0, begin, end));
    const auto all_logits = d.logits(windows, batch);
    const auto scores = d.scores(all_logits).to(torch::kDouble).contiguous();
    const double* s = scores.data_ptr<double>();
    const double file_score =
        use_max ? *std::max_element(s, s + scores.numel())
                : std::accumulate(s, s + scores.numel(), 0.0) / static_cast<double>(scores.numel());
    auto list = nlohmann::json::array();
    for (int64_t i = 0; i < all_logits.size(0); ++i) {
      auto row = all_logits[i].to(torch::kDouble).contiguous();
      list.push_back(std::vector<double>(row.data_ptr<double>(), row.data_ptr<double>() + row.numel()));
    }
    out.detectors.push_back({{"name", d.name()},
                             {"arch", d.arch()},
                             {"version", d.manifest().value("dfscan_version", "")},
                             {"hash", d.hash()},
                             {"score", file_score},
                             {"logits", list}});
    out.verdicts.push_back({file_score, threshold.value_or(d.threshold())});
    if (first_spans.empty()) {
      first_spans = spans;
      timeline_sum.assign(spans.size(), 0.0);
      out.audio = {{"sample_rate", audio.sample_rate},
                   {"duration", static_cast<double>(n) / rate},
                   {"window_seconds", window_s},
                   {"hop_seconds", hop_s},
                   {"aggregation", use_max ? "max" : "mean"}};
    }
    if (spans == first_spans) {
      for (size_t i = 0; i < spans.size(); ++i) timeline_sum[i] += s[i];
      ++timeline_models;
    }
  }
  auto timeline = nlohmann::json::array();
  for (size_t i = 0; i < first_spans.size(); ++i)
    timeline.push_back({{"start", static_cast<double>(first_spans[i].first) / rate},
                        {"end", static_cast<double>(first_spans[i].second) / rate},
                        {"score", timeline_sum[i] / timeline_models}});
  double mean_score = 0.0;
  for (const auto& v : out.verdicts) mean_score += v.score / static_cast<double>(out.verdicts.size());
  out.audio["score"] = mean_score;
  out.audio["timeline"] = timeline;
  return out;
}

}  // namespace dfscan::scan_audio
