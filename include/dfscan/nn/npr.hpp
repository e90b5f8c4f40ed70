#pragma once
// NPR detector network (Tan et al., CVPR 2024, chuangchuangtan/NPR-DeepfakeDetection): the
// neighbouring-pixel residual followed by a truncated ResNet-50 (3x3/s2 stem, layer1, layer2,
// global average pool, fc1). Parameter and buffer names equal the reference state_dict.
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

namespace dfscan::nn {

struct NprConfig {
  std::vector<int64_t> layers{3, 4};  // bottleneck blocks in layer1 and layer2
  int64_t num_classes = 1;
};

// Drops the last row and/or column of an NCHW tensor whose height and/or width is odd, as the
// authors' README does before testing at native size.
at::Tensor crop_to_even(const at::Tensor& x);

// x - nearest_up2(nearest_down2(x)): each pixel minus the top-left pixel of its 2x2 block.
// H and W must be even (use crop_to_even first).
at::Tensor npr_residual(const at::Tensor& x);

// torchvision ResNet v1.5 bottleneck (stride on the 3x3 conv), expansion 4.
class BottleneckImpl : public torch::nn::Module {
 public:
  BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};  // null when the identity shortcut fits
};
TORCH_MODULE(Bottleneck);

class NprNetImpl : public torch::nn::Module {
 public:
  explicit NprNetImpl(const NprConfig& config = {});

  // x: ImageNet-normalised images [B,3,H,W], any size >= 2x2; odd H/W lose their last row/column.
  // Returns raw logits [B, num_classes]; P(fake) = sigmoid(logit) for the one-logit model.
  at::Tensor forward(const at::Tensor& x);

  // forward() for images over `max_tile_pixels`, in the memory of one tile: the convolutional
  // trunk runs on overlapping tiles and keeps only each tile's interior, so the logits equal
  // forward()'s up to float rounding (a 64-megapixel image took 19.6 GB whole on the CPU).
  at::Tensor forward_tiled(const at::Tensor& x, int64_t max_tile_pixels);

  // The trunk before global pooling: [B,3,H,W] with even H and W -> [B,512,ceil(H/8),ceil(W/8)].
  at::Tensor features(const at::Tensor& even);

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr};
  torch::nn::Sequential layer2{nullptr};
  torch::nn::Linear fc1{nullptr};
};
TORCH_MODULE(NprNet);

}  // namespace dfscan::nn
