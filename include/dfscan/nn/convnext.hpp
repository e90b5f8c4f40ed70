#pragma once
// ConvNeXt as timm 0.6.5 builds it (conv_mlp=False, head_norm_first=False). Parameter and buffer
// names equal timm's, so official checkpoints load strictly:
//   stem.{0,1}  stages.N.downsample.{0,1}  stages.N.blocks.M.{gamma,conv_dw,norm,mlp.fc1,mlp.fc2}
//   head.norm  head.fc
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

namespace dfscan::nn {

struct ConvNeXtConfig {
  std::vector<int64_t> depths{3, 3, 9, 3};
  std::vector<int64_t> dims{96, 192, 384, 768};
  int64_t in_chans = 3;
  int64_t num_classes = 1000;      // 0: no head.fc, forward returns the pooled, normed features
  double drop_path_rate = 0.0;     // stochastic depth, linearly increasing over all blocks
  double layer_scale_init = 1e-6;  // <= 0: blocks have no gamma

  static ConvNeXtConfig tiny();  // depths (3,3,9,3), dims (96,192,384,768)
  static ConvNeXtConfig atto();  // depths (2,2,6,2), dims (40,80,160,320)
};

// LayerNorm over the channel axis of an NCHW tensor. `feeds_projection`: its result goes straight into
// a convolution, so inference under autocast may normalise in the input's precision.
class LayerNorm2dImpl : public torch::nn::Module {
 public:
  explicit LayerNorm2dImpl(int64_t channels, double eps = 1e-6, bool feeds_projection = false);
  at::Tensor forward(const at::Tensor& x);

  at::Tensor weight;
  at::Tensor bias;

 private:
  int64_t channels_;
  double eps_;
  bool feeds_projection_;
};
TORCH_MODULE(LayerNorm2d);

// fc1 -> exact (erf) GELU -> fc2, on channels-last input.
class ConvNeXtMlpImpl : public torch::nn::Module {
 public:
  ConvNeXtMlpImpl(int64_t in_features, int64_t hidden_features);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(ConvNeXtMlp);

class ConvNeXtBlockImpl : public torch::nn::Module {
 public:
  ConvNeXtBlockImpl(int64_t dim, double drop_path, double layer_scale_init);
  at::Tensor forward(const at::Tensor& x);

  at::Tensor gamma;  // undefined when layer scale is off
  torch::nn::Conv2d conv_dw{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  ConvNeXtMlp mlp{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(ConvNeXtBlock);

class ConvNeXtStageImpl : public torch::nn::Module {
 public:
  // A stage with stride 2 starts with LayerNorm2d + 2x2/s2 conv (`downsample`); stage 0 has none.
  ConvNeXtStageImpl(int64_t in_dim, int64_t out_dim, bool downsample, const std::vector<double>& drop_paths,
                    double layer_scale_init);
  at::Tensor forward(at::Tensor x);

  torch::nn::Sequential downsample{nullptr};  // null for stage 0
  torch::nn::Sequential blocks{nullptr};
};
TORCH_MODULE(ConvNeXtStage);

// Global average pool -> LayerNorm2d -> flatten -> fc.
class ConvNeXtHeadImpl : public torch::nn::Module {
 public:
  ConvNeXtHeadImpl(int64_t dim, int64_t num_classes);
  at::Tensor forward(const at::Tensor& features);

  LayerNorm2d norm{nullptr};
  torch::nn::Linear fc{nullptr};  // null when num_classes == 0
};
TORCH_MODULE(ConvNeXtHead);

class ConvNeXtImpl : public torch::nn::Module {
 public:
  explicit ConvNeXtImpl(const ConvNeXtConfig& config = ConvNeXtConfig::tiny());

  // [B,C,H,W] -> [B, dims.back(), H/32, W/32] (floor at each downsampling).
  at::Tensor forward_features(const at::Tensor& x);
  // Pooled, normed features through head.fc: [B, num_classes] (or [B, dims.back()] without fc).
  at::Tensor forward_head(const at::Tensor& features);
  at::Tensor forward(const at::Tensor& x);

  const ConvNeXtConfig& config() const { return config_; }
  // Width of forward()'s output.
  int64_t num_outputs() const;

  torch::nn::Sequential stem{nullptr};
  torch::nn::Sequential stages{nullptr};
  ConvNeXtHead head{nullptr};

 private:
  ConvNeXtConfig config_;
};
TORCH_MODULE(ConvNeXt);

}  // namespace dfscan::nn
