#include "dfscan/nn/infer_config.hpp"

#include <torch/torch.h>

#include <cmath>
#include <optional>

#include "dfscan/status.hpp"

namespace dfscan::nn {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw Error(Status::error, "config from checkpoint: " + what);
}

const std::vector<int64_t>* find(const ShapeMap& shapes, const std::string& key) {
  auto it = shapes.find(key);
  return it == shapes.end() ? nullptr : &it->second;
}

const std::vector<int64_t>& need(const ShapeMap& shapes, const std::string& key, size_t rank) {
  const auto* shape = find(shapes, key);
  if (!shape) fail("missing key " + key);
  if (shape->size() != rank) fail("key " + key + " has rank " + std::to_string(shape->size()));
  return *shape;
}

// Number of consecutive indices i >= 0 for which key(i) exists.
template <typename KeyFn>
int64_t count_while(const ShapeMap& shapes, KeyFn key) {
  int64_t n = 0;
  while (find(shapes, key(n))) ++n;
  return n;
}

// Exact integer square root, or nullopt.
std::optional<int64_t> exact_sqrt(int64_t v) {
  if (v < 0) return std::nullopt;
  const auto r = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(v))));
  if (r * r != v) return std::nullopt;
  return r;
}

}  // namespace

ShapeMap shapes_of(const torch::nn::Module& module) {
  ShapeMap shapes;
  for (const auto& p : module.named_parameters(true)) shapes[p.key()] = p.value().sizes().vec();
  for (const auto& b : module.named_buffers(true)) shapes[b.key()] = b.value().sizes().vec();
  return shapes;
}

ConvNeXtConfig infer_convnext_config(const ShapeMap& shapes, const std::string& prefix) {
  ConvNeXtConfig config;
  const auto& stem = need(shapes, prefix + "stem.0.weight", 4);
  if (stem[2] != 4 || stem[3] != 4) fail(prefix + "stem.0.weight is not a 4x4 patchify conv");
  config.in_chans = stem[1];
  config.depths.clear();
  config.dims.clear();
  const auto stage = [&](int64_t s) { return prefix + "stages." + std::to_string(s) + "."; };
  const int64_t num_stages =
      count_while(shapes, [&](int64_t s) { return stage(s) + "blocks.0.conv_dw.weight"; });
  if (num_stages == 0) fail("no ConvNeXt stages under '" + prefix + "'");
  for (int64_t s = 0; s < num_stages; ++s) {
    const auto block = [&](int64_t b) { return stage(s) + "blocks." + std::to_string(b) + "."; };
    const int64_t depth = count_while(shapes, [&](int64_t b) { return block(b) + "conv_dw.weight"; });
    const int64_t dim = need(shapes, block(0) + "conv_dw.weight", 4)[0];
    const auto& fc1 = need(shapes, block(0) + "mlp.fc1.weight", 2);
    if (fc1[0] != 4 * dim) fail(block(0) + "mlp.fc1.weight: MLP ratio is not 4");
    if (s == 0 && dim != stem[0]) fail(stage(0) + " width differs from the stem's");
    if (s > 0 && !find(shapes, stage(s) + "downsample.1.weight"))
      fail("missing key " + stage(s) + "downsample.1.weight");
    config.depths.push_back(depth);
    config.dims.push_back(dim);
  }
  config.layer_scale_init = find(shapes, stage(0) + "blocks.0.gamma") ? 1e-6 : 0.0;
  const auto* head = find(shapes, prefix + "head.fc.weight");
  config.num_classes = head ? (*head)[0] : 0;
  return config;
}

SwinConfig infer_swin_config(const ShapeMap& shapes, const std::string& prefix, int default_img_size) {
  SwinConfig config;
  const auto& proj = need(shapes, prefix + "patch_embed.proj.weight", 4);
  config.embed_dim = static_cast<int>(proj[0]);
  config.in_chans = static_cast<int>(proj[1]);
  config.patch_size = static_cast<int>(proj[2]);
  config.patch_norm = find(shapes, prefix + "patch_embed.norm.weight") != nullptr;

  const auto layer = [&](int64_t i) { return prefix + "layers." + std::to_string(i) + "."; };
  const int64_t num_layers =
      count_while(shapes, [&](int64_t i) { return layer(i) + "blocks.0.norm1.weight"; });
  if (num_layers == 0) fail("no Swin layers under '" + prefix + "'");
  config.depths.clear();
  config.num_heads.clear();
  std::optional<int> img_size;
  for (int64_t i = 0; i < num_layers; ++i) {
    const auto block = [&](int64_t b) { return layer(i) + "blocks." + std::to_string(b) + "."; };
    config.depths.push_back(
        static_cast<int>(count_while(shapes, [&](int64_t b) { return block(b) + "norm1.weight"; })));
    const auto& table = need(shapes, block(0) + "attn.relative_position_bias_table", 2);
    config.num_heads.push_back(static_cast<int>(table[1]));
    const auto side = exact_sqrt(table[0]);
    if (!side || *side % 2 == 0) fail(block(0) + "attn.relative_position_bias_table is not (2w-1)^2 rows");
    const int64_t window = (*side + 1) / 2;
    // A stage no bigger than the window shrinks its window to its size, so the first stage's table
    // gives the configured window.
    if (i == 0) {
      config.window_size = static_cast<int>(window);
      const auto& fc1 = need(shapes, block(0) + "mlp.fc1.weight", 2);
      config.mlp_ratio = static_cast<double>(fc1[0]) / static_cast<double>(config.embed_dim);
    }
    // The shifted-window mask has one entry per window: (resolution / window)^2.
    if (!img_size) {
      if (const auto* mask = find(shapes, block(1) + "attn_mask")) {
        const auto windows_per_side = exact_sqrt((*mask)[0]);
        if (mask->size() != 3 || !windows_per_side) fail(block(1) + "attn_mask has an unexpected shape");
        img_size = static_cast<int>(*windows_per_side * window * config.patch_size * (int64_t{1} << i));
      }
    }
  }
  if (const auto* ape = find(shapes, prefix + "absolute_pos_embed")) {
    config.ape = true;
    const auto patches = ape->size() == 3 ? exact_sqrt((*ape)[1]) : std::nullopt;
    if (!patches) fail(prefix + "absolute_pos_embed has an unexpected shape");
    img_size = static_cast<int>(*patches * config.patch_size);
  } else {
    config.ape = false;
  }
  config.img_size = img_size.value_or(default_img_size);
  const auto* head = find(shapes, prefix + "head.weight");
  config.num_classes = head ? static_cast<int>((*head)[0]) : 0;
  return config;
}

NprConfig infer_npr_config(const ShapeMap& shapes) {
  NprConfig config;
  need(shapes, "conv1.weight", 4);
  config.layers = {
      count_while(shapes, [](int64_t b) { return "layer1." + std::to_string(b) + ".conv1.weight"; }),
      count_while(shapes, [](int64_t b) { return "layer2." + std::to_string(b) + ".conv1.weight"; })};
  if (config.layers[0] == 0 || config.layers[1] == 0) fail("NPR checkpoint lacks layer1 or layer2");
  if (find(shapes, "layer3.0.conv1.weight")) fail("checkpoint has a layer3: not the NPR network");
  config.num_classes = need(shapes, "fc1.weight", 2)[0];
  return config;
}

GenConViTConfig infer_genconvit_config(const ShapeMap& shapes, GenConViTArch arch) {
  GenConViTConfig config;
  const std::string backbone = arch == GenConViTArch::ed ? "backbone." : "convnext_backbone.";
  config.backbone = infer_convnext_config(shapes, backbone);
  if (config.backbone.num_classes == 0) fail("missing key " + backbone + "head.fc.weight");
  config.embedder = infer_swin_config(shapes, "embedder.");
  config.hybrid_embed_dim = need(shapes, backbone + "patch_embed.proj.weight", 4)[0];
  const auto& fc2 = need(shapes, "fc2.weight", 2);
  config.num_classes = fc2[0];
  if (arch == GenConViTArch::vae) {
    const auto& mu = need(shapes, "encoder.mu.weight", 2);
    config.latent_dims = mu[0];
    const auto side = exact_sqrt(mu[1] / 128);
    if (mu[1] % 128 != 0 || !side) fail("encoder.mu.weight input is not 128 * s * s");
    config.img_size = *side * 16;
  }
  return config;
}

}  // namespace dfscan::nn
