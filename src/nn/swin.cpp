// Swin Transformer, computed the way timm 0.6.5 computes it (post-stage patch merging,
// persistent relative_position_index and attn_mask buffers, mean-pooled tokens into `head`).
#include "dfscan/nn/swin.hpp"

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "dfscan/status.hpp"
#include "nn/layers.hpp"

namespace dfscan::nn {

namespace {

[[noreturn]] void config_error(const std::string& message) {
  throw Error(Status::error, "swin config: " + message);
}

// [B, H, W, C] -> [B * nW, w, w, C], windows in row-major order.
torch::Tensor window_partition(const torch::Tensor& x, int64_t window) {
  const int64_t batch = x.size(0), height = x.size(1), width = x.size(2), channels = x.size(3);
  return x.view({batch, height / window, window, width / window, window, channels})
      .permute({0, 1, 3, 2, 4, 5})
      .contiguous()
      .view({-1, window, window, channels});
}

// Inverse of window_partition.
torch::Tensor window_reverse(const torch::Tensor& windows, int64_t window, int64_t height, int64_t width) {
  const int64_t channels = windows.size(-1);
  const int64_t batch = windows.size(0) / ((height / window) * (width / window));
  return windows.view({batch, height / window, width / window, window, window, channels})
      .permute({0, 1, 3, 2, 4, 5})
      .contiguous()
      .view({batch, height, width, channels});
}

// [w*w, w*w] int64: for each query/key pair, the row of the bias table for their offset.
torch::Tensor relative_position_index(int64_t window) {
  auto grid =
      torch::meshgrid({torch::arange(window, torch::kLong), torch::arange(window, torch::kLong)}, "ij");
  auto coords = torch::stack(grid).flatten(1);                                // [2, N]
  auto offsets = (coords.unsqueeze(2) - coords.unsqueeze(1)) + (window - 1);  // [2, N, N], >= 0
  return offsets[0] * (2 * window - 1) + offsets[1];
}

// [nW, N, N] float: 0 where query and key came from the same region of the rolled image,
// -100 where the cyclic shift made them neighbours only by wrapping around.
torch::Tensor shifted_window_mask(int64_t height, int64_t width, int64_t window, int64_t shift) {
  auto region = [&](int64_t i, int64_t size) -> int64_t {
    if (i < size - window) return 0;
    return i < size - shift ? 1 : 2;
  };
  auto image = torch::zeros({1, height, width, 1});
  auto pixels = image.accessor<float, 4>();
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      pixels[0][y][x][0] = static_cast<float>(region(y, height) * 3 + region(x, width));
    }
  }
  auto ids = window_partition(image, window).view({-1, window * window});
  auto differs = (ids.unsqueeze(1) - ids.unsqueeze(2)).ne(0);
  return torch::zeros(differs.sizes()).masked_fill(differs, -100.0);
}

torch::nn::LayerNorm layer_norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5));
}

}  // namespace

namespace detail {

class SwinPatchEmbedImpl : public torch::nn::Module {
 public:
  SwinPatchEmbedImpl(int64_t img_size, int64_t patch_size, int64_t in_chans, int64_t embed_dim, bool use_norm)
      : img_size_(img_size) {
    proj_ = register_module(
        "proj", torch::nn::Conv2d(
                    torch::nn::Conv2dOptions(in_chans, embed_dim, patch_size).stride(patch_size).bias(true)));
    if (use_norm) norm_ = register_module("norm", layer_norm(embed_dim));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    if (x.dim() != 4 || x.size(2) != img_size_ || x.size(3) != img_size_) {
      throw Error(Status::error, "swin: expected input [B, C, " + std::to_string(img_size_) + ", " +
                                     std::to_string(img_size_) + "], got " + c10::str(x.sizes()));
    }
    auto tokens = proj_(x).flatten(2).transpose(1, 2);  // [B, L, C]
    return norm_ ? norm_(tokens) : tokens;
  }

 private:
  int64_t img_size_;
  torch::nn::Conv2d proj_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};

}  // namespace detail

namespace {

class SwinWindowAttentionImpl : public torch::nn::Module {
 public:
  SwinWindowAttentionImpl(int64_t dim, int64_t num_heads, int64_t window)
      : num_heads_(num_heads), window_area_(window * window) {
    const int64_t head_dim = dim / num_heads;
    scale_ = std::pow(static_cast<double>(head_dim), -0.5);
    bias_table_ = register_parameter("relative_position_bias_table",
                                     torch::zeros({(2 * window - 1) * (2 * window - 1), num_heads}));
    torch::nn::init::normal_(bias_table_, 0.0, 0.02);
    index_copy_ = relative_position_index(window);
    index_ = register_buffer("relative_position_index", index_copy_.clone());
    qkv_ = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(true)));
    proj_ = register_module("proj", torch::nn::Linear(dim, dim));
  }

  // x: [B * nW, N, C]; mask: [nW, N, N] or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask) {
    const int64_t windows = x.size(0), tokens = x.size(1);
    auto qkv =
        detail::linear(*qkv_, x).reshape({windows, tokens, 3, num_heads_, -1}).permute({2, 0, 3, 1, 4});
    auto q = qkv[0] * scale_;
    auto k = qkv[1];
    auto v = qkv[2];
    auto attn = torch::matmul(q, k.transpose(-2, -1)) + position_bias();
    if (mask.defined()) {
      const int64_t mask_windows = mask.size(0);
      attn = attn.view({-1, mask_windows, num_heads_, tokens, tokens}) +
             mask.to(attn.scalar_type()).unsqueeze(1).unsqueeze(0);
      attn = attn.view({-1, num_heads_, tokens, tokens});
    }
    attn = attn.softmax(-1);
    return detail::linear(*proj_, torch::matmul(attn, v).transpose(1, 2).reshape({windows, tokens, -1}));
  }

 private:
  // [1, heads, N, N]
  torch::Tensor position_bias() {
    // Module::to(dtype) in LibTorch also casts integer buffers; fall back to the exact copy then.
    auto index = index_.scalar_type() == torch::kLong ? index_ : index_copy_.to(bias_table_.device());
    return bias_table_.index_select(0, index.view(-1))
        .view({window_area_, window_area_, -1})
        .permute({2, 0, 1})
        .contiguous()
        .unsqueeze(0);
  }

  int64_t num_heads_;
  int64_t window_area_;
  double scale_ = 1.0;
  torch::Tensor bias_table_;
  torch::Tensor index_;
  torch::Tensor index_copy_;  // unregistered int64 copy, see position_bias()
  torch::nn::Linear qkv_{nullptr};
  torch::nn::Linear proj_{nullptr};
};
TORCH_MODULE(SwinWindowAttention);

class SwinMlpImpl : public torch::nn::Module {
 public:
  SwinMlpImpl(int64_t dim, int64_t hidden) {
    fc1_ = register_module("fc1", torch::nn::Linear(dim, hidden));
    fc2_ = register_module("fc2", torch::nn::Linear(hidden, dim));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return detail::linear(*fc2_, torch::gelu(detail::linear(*fc1_, x)));
  }

 private:
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
};
TORCH_MODULE(SwinMlp);

class SwinBlockImpl : public torch::nn::Module {
 public:
  // `window` and `shift` are already adjusted for the resolution (see SwinStageImpl).
  SwinBlockImpl(int64_t dim, int64_t resolution, int64_t num_heads, int64_t window, int64_t shift,
                double mlp_ratio)
      : resolution_(resolution), window_(window), shift_(shift) {
    if (shift_ > 0)
      attn_mask_ = register_buffer("attn_mask", shifted_window_mask(resolution, resolution, window, shift));
    norm1_ = register_module("norm1", layer_norm(dim));
    attn_ = register_module("attn", SwinWindowAttention(dim, num_heads, window));
    norm2_ = register_module("norm2", layer_norm(dim));
    mlp_ = register_module("mlp", SwinMlp(dim, static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio)));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t batch = x.size(0), channels = x.size(2);
    auto image = norm1_(x).view({batch, resolution_, resolution_, channels});
    if (shift_ > 0) image = torch::roll(image, {-shift_, -shift_}, {1, 2});
    auto windows = window_partition(image, window_).view({-1, window_ * window_, channels});
    windows = attn_(windows, attn_mask_).view({-1, window_, window_, channels});
    image = window_reverse(windows, window_, resolution_, resolution_);
    if (shift_ > 0) image = torch::roll(image, {shift_, shift_}, {1, 2});
    auto y = x + image.view({batch, resolution_ * resolution_, channels});
    return y + mlp_(norm2_(y));
  }

 private:
  int64_t resolution_;
  int64_t window_;
  int64_t shift_;
  torch::Tensor attn_mask_;
  torch::nn::LayerNorm norm1_{nullptr};
  SwinWindowAttention attn_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  SwinMlp mlp_{nullptr};
};
TORCH_MODULE(SwinBlock);

// Concatenates each 2x2 neighbourhood (timm order: (0,0), (1,0), (0,1), (1,1)) and halves
// the resolution.
class SwinPatchMergingImpl : public torch::nn::Module {
 public:
  SwinPatchMergingImpl(int64_t dim, int64_t resolution) : resolution_(resolution) {
    norm_ = register_module("norm", layer_norm(4 * dim));
    reduction_ = register_module("reduction",
                                 torch::nn::Linear(torch::nn::LinearOptions(4 * dim, 2 * dim).bias(false)));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    using torch::indexing::None;
    using torch::indexing::Slice;
    const int64_t batch = x.size(0), channels = x.size(2);
    auto image = x.view({batch, resolution_, resolution_, channels});
    auto merged = torch::cat({image.index({Slice(), Slice(0, None, 2), Slice(0, None, 2)}),
                              image.index({Slice(), Slice(1, None, 2), Slice(0, None, 2)}),
                              image.index({Slice(), Slice(0, None, 2), Slice(1, None, 2)}),
                              image.index({Slice(), Slice(1, None, 2), Slice(1, None, 2)})},
                             -1)
                      .view({batch, -1, 4 * channels});
    return detail::linear(*reduction_, norm_(merged));
  }

 private:
  int64_t resolution_;
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear reduction_{nullptr};
};
TORCH_MODULE(SwinPatchMerging);

class SwinStageImpl : public torch::nn::Module {
 public:
  SwinStageImpl(int64_t dim, int64_t resolution, int64_t depth, int64_t num_heads, int64_t window,
                double mlp_ratio, bool downsample) {
    // timm: a window as large as the feature map means one window and no shift.
    int64_t shift = window / 2;
    if (resolution <= window) {
      window = resolution;
      shift = 0;
    }
    if (resolution % window != 0) {
      config_error("resolution " + std::to_string(resolution) + " is not a multiple of window " +
                   std::to_string(window));
    }
    blocks_ = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < depth; ++i) {
      blocks_->push_back(SwinBlock(dim, resolution, num_heads, window, i % 2 == 0 ? 0 : shift, mlp_ratio));
    }
    if (downsample) {
      if (resolution % 2 != 0)
        config_error("odd resolution " + std::to_string(resolution) + " before merging");
      downsample_ = register_module("downsample", SwinPatchMerging(dim, resolution));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    for (const auto& block : *blocks_) x = block->as<SwinBlockImpl>()->forward(x);
    return downsample_ ? downsample_(x) : x;
  }

 private:
  torch::nn::ModuleList blocks_{nullptr};
  SwinPatchMerging downsample_{nullptr};
};

}  // namespace

SwinConfig swin_tiny_config() {
  return SwinConfig{};
}

SwinTransformerImpl::SwinTransformerImpl(const SwinConfig& config) : config_(config) {
  const auto stages = config.depths.size();
  if (stages == 0 || stages != config.num_heads.size())
    config_error("depths and num_heads must be non-empty and of equal length");
  if (config.patch_size <= 0 || config.img_size % config.patch_size != 0)
    config_error("img_size must be a multiple of patch_size");
  if (config.embed_dim <= 0 || config.window_size <= 0 || config.in_chans <= 0 || config.mlp_ratio <= 0.0 ||
      config.num_classes < 0) {
    config_error("sizes must be positive");
  }

  patch_embed_ = register_module("patch_embed", std::make_shared<detail::SwinPatchEmbedImpl>(
                                                    config.img_size, config.patch_size, config.in_chans,
                                                    config.embed_dim, config.patch_norm));
  int64_t resolution = config.img_size / config.patch_size;
  if (config.ape) {
    absolute_pos_embed_ = register_parameter("absolute_pos_embed",
                                             torch::zeros({1, resolution * resolution, config.embed_dim}));
    torch::nn::init::normal_(absolute_pos_embed_, 0.0, 0.02);
  }

  layers_ = register_module("layers", torch::nn::ModuleList());
  int64_t dim = config.embed_dim;
  for (size_t i = 0; i < stages; ++i) {
    const int64_t heads = config.num_heads[i];
    if (config.depths[i] <= 0 || heads <= 0)
      config_error("stage " + std::to_string(i) + ": depth and heads must be positive");
    if (dim % heads != 0) {
      config_error("stage " + std::to_string(i) + ": dim " + std::to_string(dim) + " not divisible by " +
                   std::to_string(heads) + " heads");
    }
    const bool last = i + 1 == stages;
    layers_->push_back(std::make_shared<SwinStageImpl>(dim, resolution, config.depths[i], heads,
                                                       config.window_size, config.mlp_ratio, !last));
    if (!last) {
      dim *= 2;
      resolution /= 2;
    }
  }
  num_features_ = dim;
  norm_ = register_module("norm", layer_norm(dim));
  if (config.num_classes > 0) head_ = register_module("head", torch::nn::Linear(dim, config.num_classes));
}

torch::Tensor SwinTransformerImpl::forward_features(torch::Tensor x) {
  x = patch_embed_->forward(x);
  if (absolute_pos_embed_.defined()) x = x + absolute_pos_embed_;
  for (const auto& stage : *layers_) x = stage->as<SwinStageImpl>()->forward(x);
  return norm_(x);
}

torch::Tensor SwinTransformerImpl::forward_head(torch::Tensor tokens) {
  auto pooled = tokens.mean(1);
  return head_ ? head_(pooled) : pooled;
}

torch::Tensor SwinTransformerImpl::forward(torch::Tensor x) {
  return forward_head(forward_features(std::move(x)));
}

}  // namespace dfscan::nn
