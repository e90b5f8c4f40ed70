#pragma once
// Small helpers shared by the nn layer's modules (internal).
#include <ATen/Tensor.h>
#include <c10/util/ArrayRef.h>

namespace dfscan::nn::detail {

// In-place truncated normal on [lo, hi] (absolute bounds), by inverse-CDF sampling as timm does.
void trunc_normal_(at::Tensor& t, double std, double lo = -2.0, double hi = 2.0);

// Stochastic depth: drops whole samples with probability p and rescales the survivors by 1/(1-p).
// Identity when p == 0 or when not training.
at::Tensor drop_path(const at::Tensor& x, double p, bool training);

// LayerNorm whose result goes straight into a Linear or a convolution. Autocast runs layer_norm in
// fp32: a bf16/fp16 activation is cast up, normalised and written in fp32, then cast back down by
// the next layer, three passes over a ConvNeXt's largest tensors. ATen's kernels accumulate
// reduced-precision input in fp32 anyway, so without gradients (inference) this normalises in the
// input's own dtype, in one pass, and yields the dtype the next layer casts to. Elsewhere, or with
// shortcuts off (dfscan/nn/shortcuts.hpp), it is plain at::layer_norm.
at::Tensor layer_norm_before_projection(const at::Tensor& x, at::IntArrayRef shape, const at::Tensor& weight,
                                        const at::Tensor& bias, double eps);

}  // namespace dfscan::nn::detail
