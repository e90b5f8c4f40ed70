// GenConViT networks A (ED) and B (VAE): face-crop detectors (detectors.md §1).
#include "dfscan/nn/genconvit.hpp"

#include <torch/torch.h>

#include "detectors/architecture.hpp"
#include "detectors/shapes.hpp"
#include "dfscan/nn/infer_config.hpp"
#include "dfscan/status.hpp"

namespace dfscan::detectors {
namespace {

nlohmann::json to_json(const nn::ConvNeXtConfig& c) {
  return {{"depths", c.depths},
          {"dims", c.dims},
          {"in_chans", c.in_chans},
          {"num_classes", c.num_classes},
          {"layer_scale_init", c.layer_scale_init}};
}
nn::ConvNeXtConfig convnext_from(const nlohmann::json& j) {
  nn::ConvNeXtConfig c;
  c.depths = j.at("depths").get<std::vector<int64_t>>();
  c.dims = j.at("dims").get<std::vector<int64_t>>();
  c.in_chans = j.value("in_chans", c.in_chans);
  c.num_classes = j.value("num_classes", c.num_classes);
  c.layer_scale_init = j.value("layer_scale_init", c.layer_scale_init);
  return c;
}
nlohmann::json to_json(const nn::SwinConfig& c) {
  return {{"img_size", c.img_size},       {"patch_size", c.patch_size},
          {"in_chans", c.in_chans},       {"embed_dim", c.embed_dim},
          {"depths", c.depths},           {"num_heads", c.num_heads},
          {"window_size", c.window_size}, {"mlp_ratio", c.mlp_ratio},
          {"num_classes", c.num_classes}, {"ape", c.ape},
          {"patch_norm", c.patch_norm}};
}
nn::SwinConfig swin_from(const nlohmann::json& j) {
  nn::SwinConfig c;
  c.img_size = j.value("img_size", c.img_size);
  c.patch_size = j.value("patch_size", c.patch_size);
  c.in_chans = j.value("in_chans", c.in_chans);
  c.embed_dim = j.at("embed_dim").get<int>();
  c.depths = j.at("depths").get<std::vector<int>>();
  c.num_heads = j.at("num_heads").get<std::vector<int>>();
  c.window_size = j.value("window_size", c.window_size);
  c.mlp_ratio = j.value("mlp_ratio", c.mlp_ratio);
  c.num_classes = j.value("num_classes", c.num_classes);
  c.ape = j.value("ape", c.ape);
  c.patch_norm = j.value("patch_norm", c.patch_norm);
  return c;
}
nlohmann::json to_json(const nn::GenConViTConfig& c) {
  return {{"backbone", to_json(c.backbone)},        {"embedder", to_json(c.embedder)},
          {"hybrid_embed_dim", c.hybrid_embed_dim}, {"img_size", c.img_size},
          {"latent_dims", c.latent_dims},           {"num_classes", c.num_classes}};
}
nn::GenConViTConfig genconvit_from(const nlohmann::json& j) {
  // "official" names the published size, so a full-size network needs no hand-written config.
  if (j.is_string()) {
    if (j.get<std::string>() == "official") return nn::GenConViTConfig::official();
    throw Error(Status::error, "unknown GenConViT preset '" + j.get<std::string>() + "' (official)");
  }
  nn::GenConViTConfig c;
  c.backbone = convnext_from(j.at("backbone"));
  c.embedder = swin_from(j.at("embedder"));
  c.hybrid_embed_dim = j.value("hybrid_embed_dim", c.hybrid_embed_dim);
  c.img_size = j.value("img_size", c.img_size);
  c.latent_dims = j.value("latent_dims", c.latent_dims);
  c.num_classes = j.value("num_classes", c.num_classes);
  return c;
}

const nlohmann::json kImageNetMean = {0.485, 0.456, 0.406};
const nlohmann::json kImageNetStd = {0.229, 0.224, 0.225};

// The reference's face setup: dlib HOG, the tight box, 15 uniform frames, 224 crops (INTER_AREA).
nlohmann::json genconvit_defaults() {
  return {
      {"input", {{"resize", "resize"}, {"size", 224}, {"mean", kImageNetMean}, {"std", kImageNetStd}}},
      {"faces",
       {{"detector", "dlib-hog"}, {"margin", 0.0}, {"square", false}, {"frames", 15}, {"input_size", 224}}},
      {"score", {{"activation", "softmax"}, {"fake_index", 0}}},
      {"threshold", 0.5},
      {"threshold_source", "the reference's rule: class 0 (FAKE) wins; not calibrated by dfscan"}};
}

const ArchitectureRegistrar kEd(Architecture{
    "genconvit-ed", "face",
    [](const nlohmann::json& config) -> std::shared_ptr<torch::nn::Module> {
      return nn::GenConViTED(genconvit_from(config)).ptr();
    },
    [](torch::nn::Module& net, const at::Tensor& batch, const nlohmann::json&) {
      return static_cast<nn::GenConViTEDImpl&>(net).forward(batch);
    },
    [](const io::StateDict& state) {
      return to_json(nn::infer_genconvit_config(shape_map(state), nn::GenConViTArch::ed));
    },
    genconvit_defaults, nullptr});

const ArchitectureRegistrar kVae(Architecture{
    "genconvit-vae", "face",
    [](const nlohmann::json& config) -> std::shared_ptr<torch::nn::Module> {
      return nn::GenConViTVAE(genconvit_from(config)).ptr();
    },
    [](torch::nn::Module& net, const at::Tensor& batch, const nlohmann::json&) {
      return static_cast<nn::GenConViTVAEImpl&>(net).forward(batch);
    },
    [](const io::StateDict& state) {
      return to_json(nn::infer_genconvit_config(shape_map(state), nn::GenConViTArch::vae));
    },
    genconvit_defaults,
    [](torch::nn::Module& net, const nlohmann::json& options) {
      const std::string mode = options.value("vae_sampling", "mean");
      if (mode != "mean" && mode != "reference")
        throw Error(Status::error, "unknown VAE sampling '" + mode + "' (mean, reference)");
      static_cast<nn::GenConViTVAEImpl&>(net).set_sampling(
          mode == "mean" ? nn::VaeSampling::mean : nn::VaeSampling::reference,
          options.value("seed", uint64_t{0}));
    }});

}  // namespace
}  // namespace dfscan::detectors
