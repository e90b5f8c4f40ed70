#pragma once
// GenConViT (erprogs/GenConViT) networks A (GenConViTED) and B (GenConViTVAE), computed the way the
// reference computes them and named the way its checkpoints are saved (timm 0.6.5 backbones).
//
// The reference attaches a Swin "HybridEmbed" to the ConvNeXt as `patch_embed`, but ConvNeXt's
// forward never calls it: only ConvNeXt classifies. The Swin is registered here too (as `embedder`
// and `<backbone>.patch_embed.backbone`, one shared module) so that checkpoints load strictly, and
// it is never run.
#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <optional>

#include "dfscan/nn/convnext.hpp"
#include "dfscan/nn/swin.hpp"

namespace dfscan::nn {

struct GenConViTConfig {
  ConvNeXtConfig backbone = ConvNeXtConfig::tiny();  // num_classes 1000: its logits are the features
  SwinConfig embedder = swin_tiny_config();          // loaded, never run
  int64_t hybrid_embed_dim = 768;                    // out channels of patch_embed.proj (unused)
  int64_t img_size = 224;                            // VAE: fixes the encoder's flattened width
  int64_t latent_dims = 12544;                       // VAE: 256 * 7 * 7
  int64_t num_classes = 2;                           // class 0 = FAKE, 1 = REAL

  // The published models: convnext_tiny + swin_tiny_patch4_window7_224.
  static GenConViTConfig official();
};

// z = mu (deterministic), or the reference's draw z = mu + eps * exp(mu / 2), eps ~ N(0, 1), which it
// makes even in eval mode (its std comes from mu, not from the variance head).
enum class VaeSampling { mean, reference };
const char* to_string(VaeSampling sampling);

// Registered, never run (see the top of this file).
class HybridEmbedImpl : public torch::nn::Module {
 public:
  HybridEmbedImpl(SwinTransformer swin, int64_t embed_dim);

  SwinTransformer backbone{nullptr};
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(HybridEmbed);

// --- Network A -------------------------------------------------------------------------------

// 5 x [conv3x3 -> ReLU -> maxpool 2]: [B,3,224,224] -> [B,256,7,7].
class EdEncoderImpl : public torch::nn::Module {
 public:
  EdEncoderImpl();
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Sequential features{nullptr};
};
TORCH_MODULE(EdEncoder);

// 5 x [convT 2x2/s2 -> ReLU]: [B,256,7,7] -> [B,3,224,224].
class EdDecoderImpl : public torch::nn::Module {
 public:
  EdDecoderImpl();
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Sequential features{nullptr};
};
TORCH_MODULE(EdDecoder);

class GenConViTEDImpl : public torch::nn::Module {
 public:
  explicit GenConViTEDImpl(const GenConViTConfig& config = GenConViTConfig::official());

  // ImageNet-normalised faces [B,3,H,W] (224 as published) -> logits [B,2]:
  // fc2(gelu(fc(gelu(cat(convnext(decoded), convnext(images)))))).
  at::Tensor forward(const at::Tensor& images);
  // The autoencoder's reconstruction [B,3,H,W].
  at::Tensor reconstruct(const at::Tensor& images);

  const GenConViTConfig& config() const { return config_; }

  EdEncoder encoder{nullptr};
  EdDecoder decoder{nullptr};
  ConvNeXt backbone{nullptr};
  SwinTransformer embedder{nullptr};
  torch::nn::Linear fc{nullptr};
  torch::nn::Linear fc2{nullptr};

 private:
  GenConViTConfig config_;
};
TORCH_MODULE(GenConViTED);

// --- Network B -------------------------------------------------------------------------------

// 4 x [conv3x3/s2 -> BN -> LeakyReLU(0.01)], then the latent heads. fc1, fc2 and var are in the
// checkpoint but play no part in classification.
class VaeEncoderImpl : public torch::nn::Module {
 public:
  VaeEncoderImpl(int64_t img_size, int64_t latent_dims);

  // [B,3,S,S] -> [B, 128 * (S/16)^2]
  at::Tensor flat_features(const at::Tensor& x);
  // mu of the latent.
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Sequential features{nullptr};
  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
  torch::nn::Linear mu{nullptr};
  torch::nn::Linear var{nullptr};
};
TORCH_MODULE(VaeEncoder);

// Unflatten to [B,256,s,s], then 4 x [convT 2x2/s2 -> LeakyReLU(0.01)]: 7x7 -> 112x112.
class VaeDecoderImpl : public torch::nn::Module {
 public:
  explicit VaeDecoderImpl(int64_t latent_dims);
  at::Tensor forward(const at::Tensor& z);
  torch::nn::Sequential features{nullptr};

 private:
  int64_t side_;
};
TORCH_MODULE(VaeDecoder);

struct VaeOutput {
  at::Tensor logits;          // [B,2]
  at::Tensor reconstruction;  // [B,3,112,112] for 224 input, as fed to the ConvNeXt
};

class GenConViTVAEImpl : public torch::nn::Module {
 public:
  explicit GenConViTVAEImpl(const GenConViTConfig& config = GenConViTConfig::official());

  // ImageNet-normalised faces [B,3,img_size,img_size] -> logits [B,2]:
  // fc2(relu(fc(relu(cat(convnext(images), convnext(reconstruction)))))).
  at::Tensor forward(const at::Tensor& images);
  VaeOutput forward_with_reconstruction(const at::Tensor& images);

  // Default: VaeSampling::mean. `reference` draws eps on the CPU from a generator seeded with `seed`
  // (the same stream as torch.manual_seed(seed) in Python) and moves it to the model's device, so
  // results do not depend on the device.
  void set_sampling(VaeSampling sampling, uint64_t seed = 0);
  VaeSampling sampling() const { return sampling_; }

  const GenConViTConfig& config() const { return config_; }

  VaeEncoder encoder{nullptr};
  VaeDecoder decoder{nullptr};
  SwinTransformer embedder{nullptr};
  ConvNeXt convnext_backbone{nullptr};
  torch::nn::Linear fc{nullptr};
  torch::nn::Linear fc3{nullptr};  // in the checkpoint, unused by the reference forward
  torch::nn::Linear fc2{nullptr};

 private:
  at::Tensor sample_latent(const at::Tensor& mu);

  GenConViTConfig config_;
  VaeSampling sampling_ = VaeSampling::mean;
  std::optional<at::Generator> generator_;
};
TORCH_MODULE(GenConViTVAE);

// Bilinear resize of the VAE reconstruction to size x size, as the reference returns it for its MSE
// loss (torchvision Resize with antialias, which for upsampling is plain bilinear).
at::Tensor resize_reconstruction(const at::Tensor& reconstruction, int64_t size = 224);

}  // namespace dfscan::nn
