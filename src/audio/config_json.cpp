// Front-end and model configurations <-> JSON, so that a model manifest carries exactly what it was
// trained with; and the analysis windows that training and scanning share.
#include <nlohmann/json.hpp>

#include "dfscan/audio.hpp"
#include "dfscan/audio/models.hpp"
#include "dfscan/status.hpp"

namespace dfscan::audio {

nlohmann::json front_end_to_json(const FrontEndConfig& c) {
  return {{"kind", feature_kind_name(c.kind)},
          {"sample_rate", c.sample_rate},
          {"n_fft", c.n_fft},
          {"win_length", c.win_length},
          {"hop_length", c.hop_length},
          {"center", c.center},
          {"power", c.power},
          {"normalized", c.normalized},
          {"n_filters", c.n_filters},
          {"n_coeffs", c.n_coeffs},
          {"f_min", c.f_min},
          {"f_max", c.f_max},
          {"mel_scale", c.mel_scale == MelScale::htk ? "htk" : "slaney"},
          {"slaney_norm", c.slaney_norm},
          {"log_filters", c.log_filters},
          {"top_db", c.top_db},
          {"delta_order", c.delta_order},
          {"delta_window", c.delta_window},
          {"cmvn", c.cmvn}};
}

FrontEndConfig front_end_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error(Status::error, "audio front end: expected a JSON object");
  FrontEndConfig c;
  try {
    if (j.contains("kind")) c.kind = parse_feature_kind(j["kind"].get<std::string>());
    c.sample_rate = j.value("sample_rate", c.sample_rate);
    c.n_fft = j.value("n_fft", c.n_fft);
    c.win_length = j.value("win_length", c.win_length);
    c.hop_length = j.value("hop_length", c.hop_length);
    c.center = j.value("center", c.center);
    c.power = j.value("power", c.power);
    c.normalized = j.value("normalized", c.normalized);
    c.n_filters = j.value("n_filters", c.n_filters);
    c.n_coeffs = j.value("n_coeffs", c.n_coeffs);
    c.f_min = j.value("f_min", c.f_min);
    c.f_max = j.value("f_max", c.f_max);
    const auto scale = j.value("mel_scale", std::string("htk"));
    if (scale != "htk" && scale != "slaney")
      throw Error(Status::error, "audio front end: unknown mel_scale '" + scale + "' (htk, slaney)");
    c.mel_scale = scale == "htk" ? MelScale::htk : MelScale::slaney;
    c.slaney_norm = j.value("slaney_norm", c.slaney_norm);
    c.log_filters = j.value("log_filters", c.log_filters);
    c.top_db = j.value("top_db", c.top_db);
    c.delta_order = j.value("delta_order", c.delta_order);
    c.delta_window = j.value("delta_window", c.delta_window);
    c.cmvn = j.value("cmvn", c.cmvn);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Status::error, std::string("audio front end: ") + e.what());
  }
  validate(c);
  return c;
}

std::vector<std::pair<std::int64_t, std::int64_t>> window_spans(std::int64_t samples, std::int64_t window,
                                                                std::int64_t hop) {
  std::vector<std::pair<std::int64_t, std::int64_t>> spans;
  if (samples <= 0 || window <= 0 || hop <= 0) return spans;
  if (samples <= window) return {{0, samples}};
  for (std::int64_t start = 0; start + window <= samples; start += hop)
    spans.emplace_back(start, start + window);
  if (spans.back().second < samples) spans.emplace_back(samples - window, samples);
  return spans;
}

nlohmann::json model_config_to_json(const ModelConfig& c) {
  return {{"arch", c.arch},       {"feature_dim", c.feature_dim}, {"head_hidden", c.head_hidden},
          {"dropout", c.dropout}, {"lcnn_blstm", c.lcnn_blstm},   {"resnet_channels", c.resnet_channels}};
}

ModelConfig model_config_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error(Status::error, "audio model config: expected a JSON object");
  ModelConfig c;
  try {
    c.arch = j.value("arch", c.arch);
    c.feature_dim = j.value("feature_dim", c.feature_dim);
    if (j.contains("head_hidden")) c.head_hidden = j["head_hidden"].get<std::vector<int>>();
    c.dropout = j.value("dropout", c.dropout);
    c.lcnn_blstm = j.value("lcnn_blstm", c.lcnn_blstm);
    c.resnet_channels = j.value("resnet_channels", c.resnet_channels);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Status::error, std::string("audio model config: ") + e.what());
  }
  return c;
}

}  // namespace dfscan::audio
