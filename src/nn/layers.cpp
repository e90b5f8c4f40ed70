#include "nn/layers.hpp"

#include <torch/torch.h>

#include <cmath>
#include <vector>

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

}  // namespace dfscan::nn::detail
