// Checkpoint layout: every parameter and buffer name and shape of dfscan's modules equals the
// reference state dict's (so official checkpoints load strictly), and configs inferred from a
// checkpoint's shapes rebuild exactly that layout.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dfscan/nn/convnext.hpp"
#include "dfscan/nn/genconvit.hpp"
#include "dfscan/nn/infer_config.hpp"
#include "dfscan/nn/npr.hpp"
#include "dfscan/status.hpp"
#include "nn_test_util.hpp"

namespace dfscan::nn {
namespace {

using test::describe_difference;
using test::parity_dir;
using test::read_shapes_json;

TEST(NnLayout, NprMatchesReference) {
  const auto path = parity_dir() / "npr_resnet50" / "state_dict_shapes.json";
  DFSCAN_NEED_FIXTURE(path);
  const auto expected = read_shapes_json(path);
  NprNet net(infer_npr_config(expected));
  EXPECT_EQ(describe_difference(expected, shapes_of(*net)), "");
  EXPECT_EQ(shapes_of(*net).size(), expected.size());
}

TEST(NnLayout, ConvNeXtAttoMatchesReference) {
  const auto path = parity_dir() / "convnext_atto" / "state_dict_shapes.json";
  DFSCAN_NEED_FIXTURE(path);
  const auto expected = read_shapes_json(path);
  const auto inferred = infer_convnext_config(expected);
  EXPECT_EQ(inferred.depths, (std::vector<int64_t>{2, 2, 6, 2}));
  EXPECT_EQ(inferred.dims, (std::vector<int64_t>{40, 80, 160, 320}));
  EXPECT_EQ(inferred.num_classes, 1000);
  EXPECT_GT(inferred.layer_scale_init, 0.0);
  ConvNeXt net(inferred);
  EXPECT_EQ(describe_difference(expected, shapes_of(*net)), "");
}

TEST(NnLayout, SwinMicroConfigInferred) {
  const auto path = parity_dir() / "swin_micro" / "state_dict_shapes.json";
  DFSCAN_NEED_FIXTURE(path);
  const auto expected = read_shapes_json(path);
  const auto config = infer_swin_config(expected);
  EXPECT_EQ(config.img_size, 224);
  EXPECT_EQ(config.patch_size, 4);
  EXPECT_EQ(config.embed_dim, 32);
  EXPECT_EQ(config.depths, (std::vector<int>{2, 2}));
  EXPECT_EQ(config.num_heads, (std::vector<int>{1, 2}));
  EXPECT_EQ(config.window_size, 7);
  EXPECT_EQ(config.num_classes, 10);
  EXPECT_DOUBLE_EQ(config.mlp_ratio, 4.0);
  SwinTransformer swin(config);
  EXPECT_EQ(describe_difference(expected, shapes_of(*swin)), "");
}

TEST(NnLayout, GenConViTEdAttoMatchesReference) {
  const auto path = parity_dir() / "genconvit_ed_atto" / "state_dict_shapes.json";
  DFSCAN_NEED_FIXTURE(path);
  const auto expected = read_shapes_json(path);
  const auto config = infer_genconvit_config(expected, GenConViTArch::ed);
  EXPECT_EQ(config.backbone.dims, (std::vector<int64_t>{40, 80, 160, 320}));
  EXPECT_EQ(config.embedder.embed_dim, 32);
  EXPECT_EQ(config.embedder.num_classes, 10);
  EXPECT_EQ(config.hybrid_embed_dim, 768);
  GenConViTED net(config);
  EXPECT_EQ(describe_difference(expected, shapes_of(*net)), "");
  EXPECT_EQ(shapes_of(*net).size(), expected.size());
}

TEST(NnLayout, AutoencoderSubBlocksMatchReference) {
  const auto ae = parity_dir() / "genconvit_ed_autoencoder" / "state_dict_shapes.json";
  const auto enc = parity_dir() / "genconvit_vae_encoder_features" / "state_dict_shapes.json";
  const auto dec = parity_dir() / "genconvit_vae_decoder" / "state_dict_shapes.json";
  DFSCAN_NEED_FIXTURE(ae);
  torch::nn::Sequential autoencoder{EdEncoder(), EdDecoder()};
  EXPECT_EQ(describe_difference(read_shapes_json(ae), shapes_of(*autoencoder)), "");
  VaeEncoder encoder(224, 16);
  EXPECT_EQ(describe_difference(read_shapes_json(enc), shapes_of(*encoder->features)), "");
  VaeDecoder decoder(12544);
  EXPECT_EQ(describe_difference(read_shapes_json(dec), shapes_of(*decoder)), "");
}

// The published network A: convnext_tiny + swin_tiny, 588 keys.
TEST(NnLayout, GenConViTEdOfficialSize) {
  const auto path = parity_dir() / "genconvit_ed_official_shapes.json";
  DFSCAN_NEED_FIXTURE(path);
  const auto expected = read_shapes_json(path);
  ASSERT_EQ(expected.size(), 588u);
  const auto config = infer_genconvit_config(expected, GenConViTArch::ed);
  EXPECT_EQ(config.backbone.depths, (std::vector<int64_t>{3, 3, 9, 3}));
  EXPECT_EQ(config.backbone.dims, (std::vector<int64_t>{96, 192, 384, 768}));
  EXPECT_EQ(config.embedder.depths, (std::vector<int>{2, 2, 6, 2}));
  EXPECT_EQ(config.embedder.num_heads, (std::vector<int>{3, 6, 12, 24}));
  EXPECT_EQ(config.embedder.window_size, 7);
  EXPECT_EQ(config.embedder.img_size, 224);
  EXPECT_EQ(config.embedder.num_classes, 1000);
  GenConViTED net(config);
  const auto actual = shapes_of(*net);
  EXPECT_EQ(describe_difference(expected, actual), "");
  EXPECT_EQ(actual.size(), 588u);
  EXPECT_EQ(test::unique_parameter_count(*net), 59214875);  // detectors.md §1.6: 59.2 M
  // The official config and the inferred one build the same layout.
  EXPECT_EQ(describe_difference(actual, shapes_of(*GenConViTED(GenConViTConfig::official()))), "");
}

TEST(NnLayout, GenConViTVaeOfficialConfigInferred) {
  const auto path = parity_dir() / "genconvit_vae_official_shapes.json";
  DFSCAN_NEED_FIXTURE(path);
  const auto config = infer_genconvit_config(read_shapes_json(path), GenConViTArch::vae);
  EXPECT_EQ(config.backbone.dims, (std::vector<int64_t>{96, 192, 384, 768}));
  EXPECT_EQ(config.backbone.depths, (std::vector<int64_t>{3, 3, 9, 3}));
  EXPECT_EQ(config.embedder.embed_dim, 96);
  EXPECT_EQ(config.embedder.depths, (std::vector<int>{2, 2, 6, 2}));
  EXPECT_EQ(config.latent_dims, 12544);
  EXPECT_EQ(config.img_size, 224);
  EXPECT_EQ(config.num_classes, 2);
}

TEST(NnLayout, InferenceRejectsForeignCheckpoints) {
  ShapeMap resnet{{"conv1.weight", {64, 3, 7, 7}}, {"fc.weight", {1000, 2048}}};
  EXPECT_THROW(infer_genconvit_config(resnet, GenConViTArch::ed), Error);
  EXPECT_THROW(infer_convnext_config(resnet), Error);
  EXPECT_THROW(infer_npr_config(resnet), Error);
  // A VAE checkpoint is not an ED one: its ConvNeXt lives under convnext_backbone.
  ShapeMap vae = shapes_of(*ConvNeXt(ConvNeXtConfig::atto()));
  EXPECT_THROW(infer_genconvit_config(vae, GenConViTArch::ed), Error);
}

TEST(NnLayout, ConfigRoundTripsThroughShapes) {
  ConvNeXtConfig c;
  c.depths = {1, 2, 1};
  c.dims = {8, 16, 24};
  c.num_classes = 0;
  c.layer_scale_init = 0.0;
  const auto back = infer_convnext_config(shapes_of(*ConvNeXt(c)));
  EXPECT_EQ(back.depths, c.depths);
  EXPECT_EQ(back.dims, c.dims);
  EXPECT_EQ(back.num_classes, 0);
  EXPECT_EQ(back.layer_scale_init, 0.0);

  NprConfig n;
  n.layers = {2, 1};
  n.num_classes = 3;
  const auto npr = infer_npr_config(shapes_of(*NprNet(n)));
  EXPECT_EQ(npr.layers, n.layers);
  EXPECT_EQ(npr.num_classes, 3);
}

}  // namespace
}  // namespace dfscan::nn
