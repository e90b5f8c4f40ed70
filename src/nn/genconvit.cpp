#include "dfscan/nn/genconvit.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "dfscan/nn/shortcuts.hpp"
#include "dfscan/status.hpp"

namespace dfscan::nn {

namespace tnn = torch::nn;

GenConViTConfig GenConViTConfig::official() {
  return GenConViTConfig{};
}

const char* to_string(VaeSampling sampling) {
  switch (sampling) {
    case VaeSampling::mean:
      return "mean";
    case VaeSampling::reference:
      return "reference";
  }
  return "unknown";
}

HybridEmbedImpl::HybridEmbedImpl(SwinTransformer swin, int64_t embed_dim) {
  const auto& swin_config = swin->config();
  // The reference sizes proj by running the Swin once: its output width is the head's, or the
  // feature width when there is no head.
  const int64_t feature_dim = swin_config.num_classes > 0 ? swin_config.num_classes : swin->num_features();
  backbone = register_module("backbone", std::move(swin));
  proj = register_module("proj", tnn::Conv2d(tnn::Conv2dOptions(feature_dim, embed_dim, 1)));
}

// --- Network A -------------------------------------------------------------------------------

EdEncoderImpl::EdEncoderImpl() {
  features = register_module("features", tnn::Sequential());
  int64_t in = 3;
  for (int64_t out : {16, 32, 64, 128, 256}) {
    features->push_back(tnn::Conv2d(tnn::Conv2dOptions(in, out, 3).stride(1).padding(1)));
    features->push_back(tnn::ReLU(tnn::ReLUOptions(true)));
    features->push_back(tnn::MaxPool2d(tnn::MaxPool2dOptions(2).stride(2)));
    in = out;
  }
}

at::Tensor EdEncoderImpl::forward(const at::Tensor& x) {
  return features->forward(x);
}

EdDecoderImpl::EdDecoderImpl() {
  features = register_module("features", tnn::Sequential());
  int64_t in = 256;
  for (int64_t out : {128, 64, 32, 16, 3}) {
    features->push_back(tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(in, out, 2).stride(2)));
    features->push_back(tnn::ReLU(tnn::ReLUOptions(true)));
    in = out;
  }
}

at::Tensor EdDecoderImpl::forward(const at::Tensor& x) {
  return features->forward(x);
}

namespace {

void check_head_config(const GenConViTConfig& config) {
  if (config.num_classes < 1) throw Error(Status::error, "GenConViT needs at least one output class");
  if (config.backbone.num_classes < 1)
    throw Error(Status::error,
                "GenConViT's ConvNeXt keeps its classification head (its logits are the features)");
}

}  // namespace

GenConViTEDImpl::GenConViTEDImpl(const GenConViTConfig& config) : config_(config) {
  check_head_config(config);
  encoder = register_module("encoder", EdEncoder());
  decoder = register_module("decoder", EdDecoder());
  backbone = register_module("backbone", ConvNeXt(config.backbone));
  embedder = register_module("embedder", SwinTransformer(config.embedder));
  backbone->register_module("patch_embed", HybridEmbed(embedder, config.hybrid_embed_dim));
  const int64_t width = 2 * backbone->num_outputs();
  fc = register_module("fc", tnn::Linear(width, width / 4));
  fc2 = register_module("fc2", tnn::Linear(width / 4, config.num_classes));
}

at::Tensor GenConViTEDImpl::reconstruct(const at::Tensor& images) {
  return decoder(encoder(images));
}

at::Tensor GenConViTEDImpl::forward(const at::Tensor& images) {
  const auto decoded = reconstruct(images);
  // Reconstruction first, then the original (the reference's order). Outside training both go
  // through the backbone as one batch: half the kernel launches, which bound small batches on a
  // GPU, and larger GEMMs. ConvNeXt keeps no batch statistics, so each image's features are the
  // same; training keeps two passes (the reference's drop-path draws and gradient order).
  at::Tensor x;
  if (is_training() || !shortcuts_enabled()) {
    x = at::cat({backbone(decoded), backbone(images)}, 1);
  } else {
    const auto both = backbone(at::cat({decoded, images}, 0)).chunk(2, 0);
    x = at::cat({both[0], both[1]}, 1);
  }
  return fc2(at::gelu(fc(at::gelu(x))));
}

// --- Network B -------------------------------------------------------------------------------

VaeEncoderImpl::VaeEncoderImpl(int64_t img_size, int64_t latent_dims) {
  if (img_size <= 0 || img_size % 16 != 0)
    throw Error(Status::error, "GenConViT-VAE input size must be a positive multiple of 16");
  features = register_module("features", tnn::Sequential());
  int64_t in = 3;
  for (int64_t out : {16, 32, 64, 128}) {
    features->push_back(tnn::Conv2d(tnn::Conv2dOptions(in, out, 3).stride(2).padding(1)));
    features->push_back(tnn::BatchNorm2d(out));
    features->push_back(tnn::LeakyReLU());
    in = out;
  }
  const int64_t side = img_size / 16;
  const int64_t flat = 128 * side * side;
  fc1 = register_module("fc1", tnn::Linear(flat, 256));
  fc2 = register_module("fc2", tnn::Linear(256, 128));
  mu = register_module("mu", tnn::Linear(flat, latent_dims));
  var = register_module("var", tnn::Linear(flat, latent_dims));
}

at::Tensor VaeEncoderImpl::flat_features(const at::Tensor& x) {
  return features->forward(x).flatten(1);
}

at::Tensor VaeEncoderImpl::forward(const at::Tensor& x) {
  return mu(flat_features(x));
}

VaeDecoderImpl::VaeDecoderImpl(int64_t latent_dims) {
  side_ = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(latent_dims) / 256.0)));
  if (side_ < 1 || 256 * side_ * side_ != latent_dims)
    throw Error(Status::error,
                "GenConViT-VAE latent size must be 256 * s * s, got " + std::to_string(latent_dims));
  features = register_module("features", tnn::Sequential());
  int64_t in = 256;
  for (int64_t out : {64, 32, 16, 3}) {
    features->push_back(tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(in, out, 2).stride(2)));
    features->push_back(tnn::LeakyReLU());
    in = out;
  }
}

at::Tensor VaeDecoderImpl::forward(const at::Tensor& z) {
  return features->forward(z.reshape({z.size(0), 256, side_, side_}));
}

GenConViTVAEImpl::GenConViTVAEImpl(const GenConViTConfig& config) : config_(config) {
  check_head_config(config);
  encoder = register_module("encoder", VaeEncoder(config.img_size, config.latent_dims));
  decoder = register_module("decoder", VaeDecoder(config.latent_dims));
  embedder = register_module("embedder", SwinTransformer(config.embedder));
  convnext_backbone = register_module("convnext_backbone", ConvNeXt(config.backbone));
  convnext_backbone->register_module("patch_embed", HybridEmbed(embedder, config.hybrid_embed_dim));
  const int64_t width = 2 * convnext_backbone->num_outputs();
  fc = register_module("fc", tnn::Linear(width, width / 4));
  fc3 = register_module("fc3", tnn::Linear(width / 2, width / 4));
  fc2 = register_module("fc2", tnn::Linear(width / 4, config.num_classes));
}

void GenConViTVAEImpl::set_sampling(VaeSampling sampling, uint64_t seed) {
  sampling_ = sampling;
  if (sampling == VaeSampling::reference)
    generator_ = at::make_generator<at::CPUGeneratorImpl>(seed);
  else
    generator_.reset();
}

at::Tensor GenConViTVAEImpl::sample_latent(const at::Tensor& mu) {
  if (sampling_ == VaeSampling::mean) return mu;
  auto eps = at::randn(mu.sizes(), *generator_, at::TensorOptions().dtype(at::kFloat)).to(mu.options());
  return eps * at::exp(0.5 * mu) + mu;
}

VaeOutput GenConViTVAEImpl::forward_with_reconstruction(const at::Tensor& images) {
  const auto z = sample_latent(encoder(images));
  auto reconstruction = decoder(z);
  // Original first, then the reconstruction (the opposite of network A), fed at its own 112x112.
  auto x = at::cat({convnext_backbone(images), convnext_backbone(reconstruction)}, 1);
  return {fc2(at::relu(fc(at::relu(x)))), std::move(reconstruction)};
}

at::Tensor GenConViTVAEImpl::forward(const at::Tensor& images) {
  return forward_with_reconstruction(images).logits;
}

at::Tensor resize_reconstruction(const at::Tensor& reconstruction, int64_t size) {
  return tnn::functional::interpolate(reconstruction, tnn::functional::InterpolateFuncOptions()
                                                          .size(std::vector<int64_t>{size, size})
                                                          .mode(torch::kBilinear)
                                                          .align_corners(false));
}

}  // namespace dfscan::nn
