#pragma once
// Small helpers shared by the nn layer's modules (internal).
#include <ATen/Tensor.h>
#include <c10/util/ArrayRef.h>

namespace torch::nn {
class LinearImpl;
}

namespace dfscan::nn::detail {

// `layer` applied to `x` through at::linear, as PyTorch's nn.Linear does. The C++ frontend's
// Linear::forward is its own composition: for inputs of more than two dimensions (ConvNeXt's
// per-pixel MLP, Swin's tokens) a matmul, then the bias added in a separate pass, and under
// autocast an fp32 bias added to a bf16/fp16 product by a slow mixed-type kernel. LibTorch 2.x's
// at::linear folds such inputs and adds the bias inside the GEMM. On an H200 those separate bias
// adds took about 9 % (fp32) and 29 % (bf16) of GenConViT-ED's kernel time at batch 256. On
// LibTorch 1.13's CPU path the two compute the same bits (forward and gradients).
at::Tensor linear(const torch::nn::LinearImpl& layer, const at::Tensor& x);

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
