#include "dfscan/nn/convnext.hpp"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/torch.h>

#include <numeric>
#include <string>

#include "dfscan/nn/shortcuts.hpp"
#include "dfscan/status.hpp"
#include "nn/layers.hpp"

namespace dfscan::nn {

namespace tnn = torch::nn;

ConvNeXtConfig ConvNeXtConfig::tiny() {
  return ConvNeXtConfig{};
}

ConvNeXtConfig ConvNeXtConfig::atto() {
  ConvNeXtConfig c;
  c.depths = {2, 2, 6, 2};
  c.dims = {40, 80, 160, 320};
  return c;
}

LayerNorm2dImpl::LayerNorm2dImpl(int64_t channels, double eps, bool feeds_projection)
    : channels_(channels), eps_(eps), feeds_projection_(feeds_projection) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

at::Tensor LayerNorm2dImpl::forward(const at::Tensor& x) {
  const auto nhwc = x.permute({0, 2, 3, 1});
  const auto y = feeds_projection_
                     ? detail::layer_norm_before_projection(nhwc, {channels_}, weight, bias, eps_)
                     : at::layer_norm(nhwc, {channels_}, weight, bias, eps_);
  return y.permute({0, 3, 1, 2});
}

ConvNeXtMlpImpl::ConvNeXtMlpImpl(int64_t in_features, int64_t hidden_features) {
  fc1 = register_module("fc1", tnn::Linear(in_features, hidden_features));
  fc2 = register_module("fc2", tnn::Linear(hidden_features, in_features));
}

at::Tensor ConvNeXtMlpImpl::forward(const at::Tensor& x) {
  return detail::linear(*fc2, at::gelu(detail::linear(*fc1, x)));
}

ConvNeXtBlockImpl::ConvNeXtBlockImpl(int64_t dim, double drop_path, double layer_scale_init)
    : drop_path_(drop_path) {
  if (layer_scale_init > 0.0) gamma = register_parameter("gamma", torch::full({dim}, layer_scale_init));
  conv_dw = register_module("conv_dw",
                            tnn::Conv2d(tnn::Conv2dOptions(dim, dim, 7).padding(3).groups(dim).bias(true)));
  norm = register_module("norm", tnn::LayerNorm(tnn::LayerNormOptions({dim}).eps(1e-6)));
  mlp = register_module("mlp", ConvNeXtMlp(dim, 4 * dim));
}

at::Tensor ConvNeXtBlockImpl::forward(const at::Tensor& x) {
  auto y = conv_dw(x).permute({0, 2, 3, 1});
  const auto& n = norm->options;
  y = detail::layer_norm_before_projection(y, n.normalized_shape(), norm->weight, norm->bias, n.eps());
  y = mlp(y).permute({0, 3, 1, 2});
  // Without gradients (inference), layer scale and residual in one pass over the activation (one
  // kernel instead of two). Autocast would "promote" addcmul by first writing a bf16/fp16 branch out
  // in fp32; the kernel's own type promotion reads it as it is and computes in fp32 all the same.
  // Training keeps the reference's mul-then-add, so its arithmetic (and a rebuilt model's bits) stays
  // as it was; so does stochastic depth, which must drop the scaled branch first.
  const bool dropping = drop_path_ > 0.0 && is_training();
  if (gamma.defined() && shortcuts_enabled() && !at::GradMode::is_enabled() && !dropping) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    return at::addcmul(x, y, gamma.reshape({1, -1, 1, 1}));
  }
  if (gamma.defined()) y = y.mul(gamma.reshape({1, -1, 1, 1}));
  return detail::drop_path(y, drop_path_, is_training()) + x;
}

ConvNeXtStageImpl::ConvNeXtStageImpl(int64_t in_dim, int64_t out_dim, bool with_downsample,
                                     const std::vector<double>& drop_paths, double layer_scale_init) {
  if (with_downsample) {
    downsample = register_module(
        "downsample",
        tnn::Sequential(LayerNorm2d(in_dim, 1e-6, /*feeds_projection=*/true),
                        tnn::Conv2d(tnn::Conv2dOptions(in_dim, out_dim, 2).stride(2).bias(true))));
  } else if (in_dim != out_dim) {
    throw Error(Status::error, "ConvNeXt stage without downsampling must keep its width");
  }
  blocks = register_module("blocks", tnn::Sequential());
  for (double dp : drop_paths) blocks->push_back(ConvNeXtBlock(out_dim, dp, layer_scale_init));
}

at::Tensor ConvNeXtStageImpl::forward(at::Tensor x) {
  if (downsample) x = downsample->forward(x);
  return blocks->forward(x);
}

ConvNeXtHeadImpl::ConvNeXtHeadImpl(int64_t dim, int64_t num_classes) {
  norm = register_module("norm", LayerNorm2d(dim));
  if (num_classes > 0) fc = register_module("fc", tnn::Linear(dim, num_classes));
}

at::Tensor ConvNeXtHeadImpl::forward(const at::Tensor& features) {
  auto x = norm(features.mean({2, 3}, /*keepdim=*/true)).flatten(1);
  return fc ? fc(x) : x;
}

ConvNeXtImpl::ConvNeXtImpl(const ConvNeXtConfig& config) : config_(config) {
  const auto& dims = config.dims;
  const auto& depths = config.depths;
  if (dims.empty() || dims.size() != depths.size())
    throw Error(Status::error, "ConvNeXt config needs one depth per stage width");
  stem = register_module(
      "stem",
      tnn::Sequential(tnn::Conv2d(tnn::Conv2dOptions(config.in_chans, dims[0], 4).stride(4).bias(true)),
                      LayerNorm2d(dims[0])));

  const int64_t total = std::accumulate(depths.begin(), depths.end(), int64_t{0});
  int64_t block_index = 0;
  stages = register_module("stages", tnn::Sequential());
  for (size_t s = 0; s < dims.size(); ++s) {
    std::vector<double> rates;
    for (int64_t j = 0; j < depths[s]; ++j, ++block_index) {
      // torch.linspace(0, rate, total): the same per-block schedule as timm.
      rates.push_back(total > 1 ? config.drop_path_rate * static_cast<double>(block_index) /
                                      static_cast<double>(total - 1)
                                : 0.0);
    }
    const int64_t in_dim = s == 0 ? dims[0] : dims[s - 1];
    stages->push_back(ConvNeXtStage(in_dim, dims[s], s > 0, rates, config.layer_scale_init));
  }
  head = register_module("head", ConvNeXtHead(dims.back(), config.num_classes));

  // timm's _init_weights: truncated normal (std .02) for convs and linears, zero biases.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<tnn::Conv2d>()) {
      detail::trunc_normal_(conv->weight, 0.02);
      torch::nn::init::zeros_(conv->bias);
    } else if (auto* linear = module->as<tnn::Linear>()) {
      detail::trunc_normal_(linear->weight, 0.02);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

at::Tensor ConvNeXtImpl::forward_features(const at::Tensor& x) {
  return stages->forward(stem->forward(x));
}

at::Tensor ConvNeXtImpl::forward_head(const at::Tensor& features) {
  return head(features);
}

at::Tensor ConvNeXtImpl::forward(const at::Tensor& x) {
  return forward_head(forward_features(x));
}

int64_t ConvNeXtImpl::num_outputs() const {
  return config_.num_classes > 0 ? config_.num_classes : config_.dims.back();
}

}  // namespace dfscan::nn
