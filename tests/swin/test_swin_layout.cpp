// Swin module layout: names and shapes of every parameter and buffer must equal timm 0.6.5's
// state dict, so that official checkpoints load strictly.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dfscan/nn/swin.hpp"
#include "dfscan/status.hpp"

namespace {

using Layout = std::map<std::string, std::vector<int64_t>>;

const std::filesystem::path kParityDir = std::filesystem::path(DFSCAN_SHARED_DIR) / "parity";

dfscan::nn::SwinConfig micro_config() {
  dfscan::nn::SwinConfig config;
  config.embed_dim = 32;
  config.depths = {2, 2};
  config.num_heads = {1, 2};
  config.num_classes = 10;
  return config;
}

Layout module_layout(const torch::nn::Module& module) {
  Layout layout;
  for (const auto& item : module.named_parameters()) layout[item.key()] = item.value().sizes().vec();
  for (const auto& item : module.named_buffers()) {
    EXPECT_EQ(layout.count(item.key()), 0u) << item.key();
    layout[item.key()] = item.value().sizes().vec();
  }
  return layout;
}

// Keys of a state_dict_shapes.json that start with `prefix`, prefix removed.
Layout json_layout(const std::filesystem::path& path, const std::string& prefix) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  const auto doc = nlohmann::json::parse(in);
  Layout layout;
  for (const auto& [key, shape] : doc.items()) {
    if (key.rfind(prefix, 0) == 0) layout[key.substr(prefix.size())] = shape.get<std::vector<int64_t>>();
  }
  return layout;
}

void expect_same_layout(const Layout& actual, const Layout& expected) {
  for (const auto& [key, shape] : expected) {
    auto it = actual.find(key);
    if (it == actual.end()) {
      ADD_FAILURE() << "missing " << key;
    } else {
      EXPECT_EQ(it->second, shape) << key;
    }
  }
  for (const auto& [key, shape] : actual) {
    if (!expected.count(key)) ADD_FAILURE() << "unexpected " << key;
  }
  EXPECT_EQ(actual.size(), expected.size());
}

TEST(SwinLayout, MicroMatchesFixtureKeys) {
  const auto path = kParityDir / "swin_micro" / "state_dict_shapes.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no fixture at " << path;
  dfscan::nn::SwinTransformer model(micro_config());
  const auto expected = json_layout(path, "");
  ASSERT_EQ(expected.size(), 69u);
  expect_same_layout(module_layout(*model), expected);
}

TEST(SwinLayout, TinyMatchesGenConViTEmbedders) {
  dfscan::nn::SwinTransformer model(dfscan::nn::swin_tiny_config());
  const auto actual = module_layout(*model);
  ASSERT_TRUE(actual.count("head.weight"));  // timm 0.6.5 keeps a plain Linear head
  for (const char* file : {"genconvit_ed_official_shapes.json", "genconvit_vae_official_shapes.json"}) {
    const auto path = kParityDir / file;
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "no fixture at " << path;
    SCOPED_TRACE(file);
    const auto expected = json_layout(path, "embedder.");
    ASSERT_EQ(expected.size(), 190u);
    expect_same_layout(actual, expected);
    // The HybridEmbed inside the ConvNeXt holds the same Swin under `patch_embed.backbone.`.
    const std::string hybrid = std::string(file).find("_ed_") != std::string::npos
                                   ? "backbone.patch_embed.backbone."
                                   : "convnext_backbone.patch_embed.backbone.";
    expect_same_layout(actual, json_layout(path, hybrid));
  }
}

TEST(SwinLayout, TinyParameterCount) {
  dfscan::nn::SwinTransformer model(dfscan::nn::swin_tiny_config());
  int64_t count = 0;
  for (const auto& p : model->parameters()) count += p.numel();
  EXPECT_EQ(count, 28288354);  // timm swin_tiny_patch4_window7_224
  EXPECT_EQ(model->num_features(), 768);
}

TEST(SwinLayout, BufferDtypes) {
  dfscan::nn::SwinTransformer model(micro_config());
  for (const auto& item : model->named_buffers()) {
    if (item.key().find("relative_position_index") != std::string::npos) {
      EXPECT_EQ(item.value().scalar_type(), torch::kLong) << item.key();
    } else {
      EXPECT_EQ(item.value().scalar_type(), torch::kFloat) << item.key();
    }
  }
}

// Relative position index for a 2x2 window: offsets (dy, dx) in [-1, 1] map to (dy+1)*3 + (dx+1).
TEST(SwinLayout, RelativePositionIndexSmallWindow) {
  dfscan::nn::SwinConfig config;
  config.img_size = 16;
  config.patch_size = 2;
  config.embed_dim = 4;
  config.depths = {2};
  config.num_heads = {1};
  config.window_size = 2;
  config.num_classes = 0;
  dfscan::nn::SwinTransformer model(config);
  const auto buffers = model->named_buffers();
  const auto index = buffers["layers.0.blocks.0.attn.relative_position_index"];
  const auto expected =
      torch::tensor({4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4}, torch::kLong).view({4, 4});
  EXPECT_TRUE(torch::equal(index, expected)) << index;
  // 8x8 tokens, window 2, shift 1: 16 windows; only the last row/column of windows mixes regions.
  const auto mask = buffers["layers.0.blocks.1.attn_mask"];
  ASSERT_EQ(mask.sizes(), (std::vector<int64_t>{16, 4, 4}));
  EXPECT_EQ(mask.slice(0, 0, 3).abs().sum().item<float>(), 0.0f);
  EXPECT_GT(mask[15].ne(0).sum().item<int64_t>(), 0);
  EXPECT_TRUE(torch::all(mask.eq(0) | mask.eq(-100)).item<bool>());
}

TEST(SwinLayout, NoShiftWhenWindowCoversStage) {
  dfscan::nn::SwinConfig config;  // swin_tiny: stage 3 is 7x7 = one window, so no mask
  dfscan::nn::SwinTransformer model(config);
  const auto buffers = model->named_buffers();
  EXPECT_FALSE(buffers.contains("layers.3.blocks.1.attn_mask"));
  EXPECT_TRUE(buffers.contains("layers.2.blocks.1.attn_mask"));
}

TEST(SwinLayout, WrongInputSizeThrows) {
  dfscan::nn::SwinTransformer model(micro_config());
  EXPECT_THROW(model->forward(torch::zeros({1, 3, 112, 112})), dfscan::Error);
}

TEST(SwinLayout, BadConfigThrows) {
  auto config = micro_config();
  config.num_heads = {1};
  EXPECT_THROW(dfscan::nn::SwinTransformer{config}, dfscan::Error);
  config = micro_config();
  config.num_heads = {3, 2};  // 32 not divisible by 3
  EXPECT_THROW(dfscan::nn::SwinTransformer{config}, dfscan::Error);
  config = micro_config();
  config.window_size = 5;  // 56 is not a multiple of 5
  EXPECT_THROW(dfscan::nn::SwinTransformer{config}, dfscan::Error);
}

TEST(SwinLayout, ForwardShapes) {
  torch::NoGradGuard no_grad;
  dfscan::nn::SwinTransformer model(micro_config());
  model->eval();
  const auto x = torch::randn({2, 3, 224, 224});
  const auto tokens = model->forward_features(x);
  EXPECT_EQ(tokens.sizes(), (std::vector<int64_t>{2, 28 * 28, 64}));
  EXPECT_EQ(model->forward(x).sizes(), (std::vector<int64_t>{2, 10}));
}

// GenConViT registers one Swin object twice (as `embedder` and inside a HybridEmbed); LibTorch must
// then list its tensors under both prefixes, sharing storage, as PyTorch's state_dict does.
TEST(SwinLayout, SharedRegistrationExposesBothPrefixes) {
  dfscan::nn::SwinTransformer swin(micro_config());
  torch::nn::Module parent;
  parent.register_module("embedder", swin);
  auto hybrid = std::make_shared<torch::nn::Module>();
  hybrid->register_module("backbone", swin);
  parent.register_module("patch_embed", hybrid);
  const auto params = parent.named_parameters();
  ASSERT_TRUE(params.contains("embedder.head.weight"));
  ASSERT_TRUE(params.contains("patch_embed.backbone.head.weight"));
  EXPECT_TRUE(params["embedder.head.weight"].is_same(params["patch_embed.backbone.head.weight"]));
  EXPECT_TRUE(parent.named_buffers().contains("patch_embed.backbone.layers.0.blocks.1.attn_mask"));
}

}  // namespace
