#include "dfscan/nn/npr.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

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

at::Tensor NprNetImpl::features(const at::Tensor& even) {
  auto y = conv1(npr_residual(even) * 2.0 / 3.0);  // the reference order of operations
  y = F::max_pool2d(at::relu(bn1(y)), F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  return layer2->forward(layer1->forward(y));
}

at::Tensor NprNetImpl::forward(const at::Tensor& input) {
  return fc1(features(crop_to_even(input)).mean({2, 3}));
}

at::Tensor NprNetImpl::forward_tiled(const at::Tensor& input, int64_t max_tile_pixels) {
  const auto x = crop_to_even(input);
  const int64_t h = x.size(2), w = x.size(3);
  if (h * w <= max_tile_pixels) return forward(x);
  // Each feature cell is 8 x 8 pixels (conv1, max pool and layer2 halve the size: ceil(H / 8) cells)
  // and its receptive field is 87 pixels wide (plus the NPR block's anchor), so a tile that reaches
  // 64 pixels past its core computes the core's cells exactly as the whole image does. Tiles start at
  // multiples of 8, which keeps the 2 x 2 NPR blocks and every stride aligned with the whole's.
  constexpr int64_t kCell = 8, kHalo = 64;
  const auto side = static_cast<int64_t>(std::sqrt(static_cast<double>(max_tile_pixels)));
  const int64_t core = std::max<int64_t>(1, (side - 2 * kHalo) / kCell);  // core side in cells
  const int64_t cells_h = (h + kCell - 1) / kCell, cells_w = (w + kCell - 1) / kCell;
  at::Tensor sum;  // [B, C]: the features summed over every cell of the whole image
  for (int64_t r0 = 0; r0 < cells_h; r0 += core)
    for (int64_t c0 = 0; c0 < cells_w; c0 += core) {
      const int64_t r1 = std::min(cells_h, r0 + core), c1 = std::min(cells_w, c0 + core);
      const int64_t y0 = std::max<int64_t>(0, r0 * kCell - kHalo), y1 = std::min(h, r1 * kCell + kHalo);
      const int64_t x0 = std::max<int64_t>(0, c0 * kCell - kHalo), x1 = std::min(w, c1 * kCell + kHalo);
      const auto f = features(x.slice(2, y0, y1).slice(3, x0, x1));
      const auto part =
          f.slice(2, r0 - y0 / kCell, r1 - y0 / kCell).slice(3, c0 - x0 / kCell, c1 - x0 / kCell);
      sum = sum.defined() ? sum + part.sum({2, 3}) : part.sum({2, 3});
    }
  return fc1(sum / static_cast<double>(cells_h * cells_w));
}

}  // namespace dfscan::nn
