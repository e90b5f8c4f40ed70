#pragma once
// Audio in the scan pipeline (ARCHITECTURE.md step 5): the audio track of an audio file or a video is
// decoded to mono at the audio detectors' rate and scored in overlapping windows; the file's audio
// score is the mean (or, with --aggregate max, the maximum) of its window scores.
#include <ATen/Tensor.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dfscan/audio.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/media.hpp"
#include "dfscan/status.hpp"

namespace dfscan::scan_audio {

struct DecodedAudio {
  Status status = Status::ok;
  std::string message;
  std::vector<std::string> warnings;
  std::vector<float> pcm;  // mono, in [-1, 1]
  int sample_rate = 0;     // 0: nothing was decoded
  bool decoded() const { return sample_rate > 0 && status == Status::ok && !pcm.empty(); }
};

// The sample rate every audio model asks for; throws dfscan::Error when they disagree.
int models_sample_rate(const std::vector<Detector>& models);

// Decodes the first audio stream to mono at `sample_rate` with the media layer's reader. No samples
// at all gives Status::empty.
DecodedAudio decode_audio(const std::string& path, int sample_rate, const media::Limits& limits);

struct AudioScores {
  nlohmann::json detectors = nlohmann::json::array();  // one result entry per audio model
  // {"sample_rate", "duration", "window_seconds", "hop_seconds", "aggregation", "score",
  //  "timeline": [{"start", "end", "score"}]}: the first model's windows, scored by the mean over models
  nlohmann::json audio;
  struct Verdict {
    double score;
    double threshold;
  };
  std::vector<Verdict> verdicts;  // per model: file score and threshold
};

// Scores decoded audio with every model. `aggregate` "max" takes the highest window score per file,
// anything else the mean. `threshold` overrides the models' thresholds.
AudioScores score_audio(const std::vector<Detector>& models, const DecodedAudio& audio,
                        const std::string& aggregate, int batch, std::optional<double> threshold);

}  // namespace dfscan::scan_audio
