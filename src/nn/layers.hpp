#pragma once
// Small helpers shared by the nn layer's modules (internal).
#include <ATen/Tensor.h>

namespace dfscan::nn::detail {

// In-place truncated normal on [lo, hi] (absolute bounds), by inverse-CDF sampling as timm does.
void trunc_normal_(at::Tensor& t, double std, double lo = -2.0, double hi = 2.0);

// Stochastic depth: drops whole samples with probability p and rescales the survivors by 1/(1-p).
// Identity when p == 0 or when not training.
at::Tensor drop_path(const at::Tensor& x, double p, bool training);

}  // namespace dfscan::nn::detail
