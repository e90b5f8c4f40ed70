// NPR: whole-image up-sampling artefact detector (detectors.md §2).
#include "dfscan/nn/npr.hpp"

#include <torch/torch.h>

#include "detectors/architecture.hpp"
#include "detectors/shapes.hpp"
#include "dfscan/nn/infer_config.hpp"
#include "dfscan/status.hpp"

namespace dfscan::detectors {
namespace {

// Native-size input makes memory grow with the photograph: about 300 bytes of activations per
// pixel, 19.6 GB for 64 megapixels. Larger images run in tiles of this many pixels (about 1.2 GB),
// with the same logits (NprNetImpl::forward_tiled).
constexpr int64_t kPixelsPerPass = int64_t{2048} * 2048;

const nlohmann::json kImageNetMean = {0.485, 0.456, 0.406};
const nlohmann::json kImageNetStd = {0.229, 0.224, 0.225};

nn::NprConfig config_from(const nlohmann::json& j) {
  nn::NprConfig c;
  // "official" names the published size (the defaults), as for the other architectures.
  if (j.is_string()) {
    if (j.get<std::string>() == "official") return c;
    throw Error(Status::error, "unknown NPR preset '" + j.get<std::string>() + "' (official)");
  }
  if (j.contains("layers")) c.layers = j["layers"].get<std::vector<int64_t>>();
  c.num_classes = j.value("num_classes", c.num_classes);
  return c;
}

const ArchitectureRegistrar kNpr(Architecture{
    "npr", "image",
    [](const nlohmann::json& config) -> std::shared_ptr<torch::nn::Module> {
      return nn::NprNet(config_from(config)).ptr();
    },
    [](torch::nn::Module& net, const at::Tensor& batch, const nlohmann::json&) {
      return static_cast<nn::NprNetImpl&>(net).forward_tiled(batch, kPixelsPerPass);
    },
    [](const io::StateDict& state) {
      const auto c = nn::infer_npr_config(shape_map(state));
      return nlohmann::json{{"layers", c.layers}, {"num_classes", c.num_classes}};
    },
    [] {
      return nlohmann::json{
          {"input",
           {{"resize", "native"}, {"even_crop", true}, {"mean", kImageNetMean}, {"std", kImageNetStd}}},
          {"score", {{"activation", "sigmoid"}}},
          {"threshold", 0.5},
          {"threshold_source", "the authors' rule: sigmoid(logit) > 0.5; not calibrated by dfscan"},
          {"faces", nullptr}};
    },
    nullptr});

}  // namespace
}  // namespace dfscan::detectors
