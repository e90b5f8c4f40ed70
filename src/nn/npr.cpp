#include "dfscan/nn/npr.hpp"

#include <torch/torch.h>

#include "dfscan/status.hpp"

namespace dfscan::nn {

namespace tnn = torch::nn;
namespace F = torch::nn::functional;

at::Tensor crop_to_even(const at::Tensor& x) {
  if (x.dim() != 4) throw Error(Status::error, "NPR expects an NCHW tensor");
  const int64_t h = x.size(2) - x.size(2) % 2;
  const int64_t w = x.size(3) - x.size(3) % 2;
  if (h == x.size(2) && w == x.size(3)) return x;
  return x.slice(2, 0, h).slice(3, 0, w);
}

at::Tensor npr_residual(const at::Tensor& x) {
  if (x.dim() != 4 || x.size(2) % 2 != 0 || x.size(3) % 2 != 0 || x.size(2) < 2 || x.size(3) < 2)
    throw Error(Status::error, "NPR residual needs an NCHW tensor with even, non-zero height and width");
  // Legacy 'nearest' at scale 1/2 then 2 picks source index floor(i/2)*2: the block's top-left pixel.
  auto anchors = x.slice(2, 0, x.size(2), 2).slice(3, 0, x.size(3), 2);
  return x - anchors.repeat_interleave(2, 2).repeat_interleave(2, 3);
}

namespace {

tnn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  return tnn::Conv2d(tnn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}

tnn::Sequential make_layer(int64_t& in_planes, int64_t planes, int64_t blocks, int64_t stride) {
  tnn::Sequential layer;
  for (int64_t b = 0; b < blocks; ++b) {
    layer->push_back(Bottleneck(in_planes, planes, b == 0 ? stride : 1));
    in_planes = planes * 4;
  }
  return layer;
}

}  // namespace

BottleneckImpl::BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride) {
  const int64_t out = planes * 4;
  conv1 = register_module("conv1", conv(in_planes, planes, 1, 1));
  bn1 = register_module("bn1", tnn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride));
  bn2 = register_module("bn2", tnn::BatchNorm2d(planes));
  conv3 = register_module("conv3", conv(planes, out, 1, 1));
  bn3 = register_module("bn3", tnn::BatchNorm2d(out));
  if (stride != 1 || in_planes != out)
    downsample = register_module("downsample",
                                 tnn::Sequential(conv(in_planes, out, 1, stride), tnn::BatchNorm2d(out)));
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) {
  auto y = at::relu(bn1(conv1(x)));
  y = at::relu(bn2(conv2(y)));
  y = bn3(conv3(y));
  return at::relu(y + (downsample ? downsample->forward(x) : x));
}

NprNetImpl::NprNetImpl(const NprConfig& config) {
  if (config.layers.size() != 2) throw Error(Status::error, "NPR network has exactly two residual stages");
  conv1 = register_module("conv1", conv(3, 64, 3, 2));
  bn1 = register_module("bn1", tnn::BatchNorm2d(64));
  int64_t in_planes = 64;
  layer1 = register_module("layer1", make_layer(in_planes, 64, config.layers[0], 1));
  layer2 = register_module("layer2", make_layer(in_planes, 128, config.layers[1], 2));
  fc1 = register_module("fc1", tnn::Linear(512, config.num_classes));

  // The reference initialisation (training from scratch): Kaiming-normal fan_out convs, BN 1/0.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<tnn::Conv2d>())
      tnn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
  }
}

at::Tensor NprNetImpl::forward(const at::Tensor& input) {
  const auto x = crop_to_even(input);
  auto y = conv1(npr_residual(x) * 2.0 / 3.0);  // the reference order of operations
  y = F::max_pool2d(at::relu(bn1(y)), F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  y = layer2->forward(layer1->forward(y));
  return fc1(y.mean({2, 3}));
}

}  // namespace dfscan::nn
