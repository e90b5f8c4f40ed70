#pragma once
// Swin Transformer with timm 0.6.5 module naming, so that state dicts saved by timm 0.6.5
// (for example the GenConViT embedder) load strictly:
//   patch_embed.{proj,norm}, [absolute_pos_embed],
//   layers.N.blocks.M.{norm1, attn.{relative_position_bias_table, relative_position_index, qkv, proj},
//                      norm2, mlp.{fc1,fc2}, attn_mask (shifted blocks only)},
//   layers.N.downsample.{norm,reduction} (every stage but the last), norm, head.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace dfscan::nn {

struct SwinConfig {
  int img_size = 224;
  int patch_size = 4;
  int in_chans = 3;
  int embed_dim = 96;
  std::vector<int> depths{2, 2, 6, 2};
  std::vector<int> num_heads{3, 6, 12, 24};
  int window_size = 7;
  double mlp_ratio = 4.0;
  int num_classes = 1000;  // 0: no head, forward returns pooled features
  bool ape = false;        // absolute position embedding
  bool patch_norm = true;
};

// swin_tiny_patch4_window7_224 (GenConViT's embedder).
SwinConfig swin_tiny_config();

namespace detail {
class SwinPatchEmbedImpl;
}

class SwinTransformerImpl : public torch::nn::Module {
 public:
  // Throws dfscan::Error(Status::error) on an inconsistent config.
  explicit SwinTransformerImpl(const SwinConfig& config);

  // [B, in_chans, img_size, img_size] -> normalised tokens [B, L, num_features].
  // The input size is fixed at construction, as in timm 0.6.5.
  torch::Tensor forward_features(torch::Tensor x);
  // Tokens [B, L, C] -> average pool -> head: [B, num_classes] (or [B, C] without a head).
  torch::Tensor forward_head(torch::Tensor tokens);
  torch::Tensor forward(torch::Tensor x);

  const SwinConfig& config() const { return config_; }
  int64_t num_features() const { return num_features_; }

 private:
  SwinConfig config_;
  int64_t num_features_ = 0;
  std::shared_ptr<detail::SwinPatchEmbedImpl> patch_embed_;
  torch::Tensor absolute_pos_embed_;
  torch::nn::ModuleList layers_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};

TORCH_MODULE(SwinTransformer);

}  // namespace dfscan::nn
