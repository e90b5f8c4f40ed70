#include "nn/layers.hpp"

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <vector>

#include "dfscan/nn/shortcuts.hpp"

namespace dfscan::nn {

namespace {
std::atomic<bool> shortcuts{true};
}  // namespace

void set_shortcuts_enabled(bool on) {
  shortcuts.store(on, std::memory_order_relaxed);
}
bool shortcuts_enabled() {
  return shortcuts.load(std::memory_order_relaxed);
}

}  // namespace dfscan::nn

namespace dfscan::nn::detail {

void trunc_normal_(at::Tensor& t, double std, double lo, double hi) {
  torch::NoGradGuard no_grad;
  auto normal_cdf = [](double v) { return 0.5 * (1.0 + std::erf(v / std::sqrt(2.0))); };
  const double l = normal_cdf(lo / std);
  const double u = normal_cdf(hi / std);
  t.uniform_(2.0 * l - 1.0, 2.0 * u - 1.0);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0));
  t.clamp_(lo, hi);
}

at::Tensor drop_path(const at::Tensor& x, double p, bool training) {
  if (p <= 0.0 || !training) return x;
  const double keep = 1.0 - p;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  auto mask = at::empty(shape, x.options()).bernoulli_(keep);
  if (keep > 0.0) mask.div_(keep);
  return x * mask;
}

at::Tensor linear(const torch::nn::LinearImpl& layer, const at::Tensor& x) {
  return at::linear(x, layer.weight, layer.bias);
}

at::Tensor layer_norm_before_projection(const at::Tensor& x, at::IntArrayRef shape, const at::Tensor& weight,
                                        const at::Tensor& bias, double eps) {
  const auto dtype = x.scalar_type();
  const auto autocast_key = x.is_cuda() ? c10::DispatchKey::AutocastCUDA : c10::DispatchKey::AutocastCPU;
  const bool reduced = dtype == at::kBFloat16 || dtype == at::kHalf;
  if (!reduced || !shortcuts_enabled() || at::GradMode::is_enabled() ||
      c10::impl::tls_is_dispatch_key_excluded(autocast_key) || !weight.defined() ||
      weight.scalar_type() == dtype)
    return at::layer_norm(x, shape, weight, bias, eps);
  // Through autocast's cache: the weights are cast once per autocast region, not once per call.
  const auto device = x.device().type();
  const auto w = at::autocast::cached_cast(dtype, weight, device);
  const auto b = at::autocast::cached_cast(dtype, bias, device);
  c10::impl::ExcludeDispatchKeyGuard no_autocast(autocast_key);
  return at::layer_norm(x, shape, w, b, eps);
}

}  // namespace dfscan::nn::detail
