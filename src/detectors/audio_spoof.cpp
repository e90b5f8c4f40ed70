// Audio spoofing detectors (detectors.md §3): an audio::SpoofModel (LCNN, ResNet or stats-MLP) behind
// the front end it was trained with. Inputs are waveform windows [N, samples] (or [N, 1, samples]),
// mono float in [-1, 1] at the manifest's sample rate; outputs are two logits (0 real, 1 fake).
#include <torch/torch.h>

#include "detectors/architecture.hpp"
#include "dfscan/audio.hpp"
#include "dfscan/audio/models.hpp"
#include "dfscan/status.hpp"

namespace dfscan::detectors {
namespace {

const ArchitectureRegistrar kAudioSpoof(Architecture{
    "audio-spoof", "audio",
    [](const nlohmann::json& config) -> std::shared_ptr<torch::nn::Module> {
      auto c = audio::model_config_from_json(config);
      if (c.arch == "scripted")
        throw Error(Status::error, "audio-spoof: a scripted front end cannot be shipped in a model file");
      c.dropout = 0.0;  // inference only
      return audio::make_model(c);
    },
    [](torch::nn::Module& net, const at::Tensor& batch, const nlohmann::json& manifest) {
      const auto fe = audio::front_end_from_json(manifest.at("input").at("front_end"));
      auto wave = batch.dim() == 3 ? batch.squeeze(1) : batch;
      if (wave.dim() != 2 || wave.size(1) < 1)
        throw Error(Status::error, "audio-spoof: expected waveforms [N, samples]");
      // Centred frames reflect-pad n_fft/2 samples, which needs a longer input: repeat a very short
      // one (the features are utterance statistics, which repetition leaves nearly unchanged).
      if (wave.size(1) <= fe.n_fft) wave = wave.repeat({1, fe.n_fft / wave.size(1) + 1});
      auto features = audio::compute_features(wave.to(torch::kFloat).contiguous(), fe);
      return static_cast<audio::SpoofModel&>(net).forward(features);
    },
    [](const io::StateDict&) -> nlohmann::json {
      throw Error(Status::error,
                  "audio-spoof models have no official checkpoint to import; train one with "
                  "`dfscan continual --save-model`");
    },
    [] {
      return nlohmann::json{{"input",
                             {{"sample_rate", 16000},
                              {"window_seconds", 2.0},
                              {"hop_seconds", 1.0},
                              {"front_end", audio::front_end_to_json(audio::FrontEndConfig{})}}},
                            {"score", {{"activation", "softmax"}, {"fake_index", 1}}},
                            {"threshold", 0.5},
                            {"threshold_source", "argmax of the two logits; not calibrated"},
                            {"faces", nullptr}};
    },
    nullptr});

}  // namespace
}  // namespace dfscan::detectors
