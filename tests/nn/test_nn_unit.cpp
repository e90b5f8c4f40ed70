// Shapes, semantics and modes of the nn modules, on small random configs (no fixtures needed).
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/record_function.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <string_view>

#include "dfscan/nn/convnext.hpp"
#include "dfscan/nn/genconvit.hpp"
#include "dfscan/nn/npr.hpp"
#include "dfscan/nn/shortcuts.hpp"
#include "dfscan/status.hpp"
#include "nn/layers.hpp"
#include "nn_test_util.hpp"

namespace dfscan::nn {
namespace {

namespace F = torch::nn::functional;

TEST(Npr, ResidualIsTheReferenceNearestRoundTrip) {
  torch::manual_seed(1);
  const auto x = torch::randn({2, 3, 10, 14});
  // The reference: interpolate(interpolate(x, 0.5, nearest), 2, nearest), scale factors recomputed.
  auto down = F::interpolate(x, F::InterpolateFuncOptions()
                                    .scale_factor(std::vector<double>{0.5, 0.5})
                                    .mode(torch::kNearest)
                                    .recompute_scale_factor(true));
  auto up = F::interpolate(down, F::InterpolateFuncOptions()
                                     .scale_factor(std::vector<double>{2.0, 2.0})
                                     .mode(torch::kNearest)
                                     .recompute_scale_factor(true));
  EXPECT_TRUE(torch::equal(npr_residual(x), x - up));
  // Top-left pixels of each 2x2 block are exactly zero, the others are not.
  const auto r = npr_residual(x);
  EXPECT_EQ(r.slice(2, 0, 10, 2).slice(3, 0, 14, 2).abs().max().item<float>(), 0.0f);
  EXPECT_GT(r.slice(2, 1, 10, 2).abs().min().item<float>(), 0.0f);
}

TEST(Npr, OddSizesLoseLastRowAndColumn) {
  const auto x = torch::randn({1, 3, 9, 7});
  const auto cropped = crop_to_even(x);
  EXPECT_EQ(cropped.sizes(), (std::vector<int64_t>{1, 3, 8, 6}));
  EXPECT_TRUE(torch::equal(cropped, x.slice(2, 0, 8).slice(3, 0, 6)));
  EXPECT_THROW(npr_residual(x), Error);

  NprNet net;
  net->eval();
  torch::NoGradGuard no_grad;
  const auto odd = net->forward(x);
  EXPECT_EQ(odd.sizes(), (std::vector<int64_t>{1, 1}));
  EXPECT_TRUE(torch::allclose(odd, net->forward(cropped)));
}

TEST(Npr, OutputShapeAndParamCount) {
  NprNet net;
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  EXPECT_EQ(params, 1437761);  // detectors.md §2.3
  net->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(net->forward(torch::randn({3, 3, 64, 48})).sizes(), (std::vector<int64_t>{3, 1}));
}

TEST(Npr, TiledForwardEqualsTheWholeImage) {
  // Exact but for float rounding (0 and 1.2e-7 measured); a 40-pixel halo misses by 6e-6 and 1.7e-5.
  // Odd sizes (cropped to even) that are not multiples of the 8-pixel cell, so that edge tiles are
  // partial; a budget of 256 x 256 pixels gives cores of 16 x 16 cells, 3 x 2 tiles here.
  torch::manual_seed(3);
  NprNet net;
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 301, 247});
  const auto whole = net->forward(x);
  const auto tiled = net->forward_tiled(x, 256 * 256);
  EXPECT_LT((tiled - whole).abs().max().item<double>(), 1e-6) << whole << tiled;
  // The smallest core, one cell per tile: every cell is an edge of its tile.
  const auto small = torch::randn({1, 3, 48, 56});
  const auto one_cell = net->forward_tiled(small, 1);
  EXPECT_LT((one_cell - net->forward(small)).abs().max().item<double>(), 1e-6) << one_cell;
  // Within the budget, forward_tiled is forward.
  EXPECT_TRUE(torch::equal(net->forward_tiled(x, 301 * 247), whole));
}

ConvNeXtConfig tiny_convnext() {
  ConvNeXtConfig c;
  c.depths = {1, 1, 2, 1};
  c.dims = {8, 16, 24, 32};
  c.num_classes = 10;
  return c;
}

TEST(ConvNeXtUnit, ShapesWithAndWithoutHead) {
  torch::NoGradGuard no_grad;
  ConvNeXt net(tiny_convnext());
  net->eval();
  const auto x = torch::randn({2, 3, 64, 64});
  EXPECT_EQ(net->forward_features(x).sizes(), (std::vector<int64_t>{2, 32, 2, 2}));
  EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{2, 10}));
  // 112x112 (the VAE reconstruction): 28 -> 14 -> 7 -> 3 with floor downsampling.
  EXPECT_EQ(net->forward_features(torch::randn({1, 3, 112, 112})).sizes(),
            (std::vector<int64_t>{1, 32, 3, 3}));

  auto config = tiny_convnext();
  config.num_classes = 0;
  ConvNeXt headless(config);
  EXPECT_EQ(headless->forward(x).sizes(), (std::vector<int64_t>{2, 32}));
  EXPECT_EQ(headless->num_outputs(), 32);
  EXPECT_FALSE(headless->head->fc);
}

TEST(ConvNeXtUnit, LayerNorm2dNormalisesChannels) {
  LayerNorm2d norm(5);
  torch::NoGradGuard no_grad;
  norm->weight.uniform_(0.5, 2.0);
  norm->bias.uniform_(-1.0, 1.0);
  const auto x = torch::randn({2, 5, 3, 4}) * 3 + 1;
  const auto mean = x.mean(1, true);
  const auto var = x.var(1, /*unbiased=*/false, /*keepdim=*/true);
  const auto expected = (x - mean) / torch::sqrt(var + 1e-6) * norm->weight.view({1, -1, 1, 1}) +
                        norm->bias.view({1, -1, 1, 1});
  EXPECT_TRUE(torch::allclose(norm->forward(x), expected, 1e-5, 1e-5));
}

// Under autocast, inference normalises a bf16 activation in bf16 (one pass) instead of autocast's
// fp32 round trip, with the result the next layer would see anyway: the fp32 norm rounded to bf16.
// Without autocast, or with gradients, it is at::layer_norm unchanged. (CPU autocast stands in for
// CUDA's here: the same dispatch key logic; scripts/gpu-check.sh runs the CUDA parity tests.)
TEST(ConvNeXtUnit, LayerNormBeforeProjectionKeepsReducedPrecision) {
  torch::manual_seed(0);
  const auto x = (torch::randn({4, 6, 6, 32}) * 2 + 0.5).to(torch::kBFloat16);
  const auto weight = torch::rand({32}).add_(0.5).requires_grad_();
  const auto bias = torch::randn({32}).requires_grad_();
  const auto reference =
      at::layer_norm(x.to(torch::kFloat), {32}, weight.detach(), bias.detach(), 1e-6).to(torch::kBFloat16);

  const auto fp32 = torch::randn({2, 3, 32});
  EXPECT_TRUE(torch::equal(detail::layer_norm_before_projection(fp32, {32}, weight, bias, 1e-6),
                           at::layer_norm(fp32, {32}, weight, bias, 1e-6)));

  const bool was_excluded = c10::impl::tls_is_dispatch_key_excluded(c10::DispatchKey::AutocastCPU);
  c10::impl::tls_set_dispatch_key_excluded(c10::DispatchKey::AutocastCPU, false);  // CPU autocast on
  at::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = detail::layer_norm_before_projection(x, {32}, weight, bias, 1e-6);
  }
  c10::impl::tls_set_dispatch_key_excluded(c10::DispatchKey::AutocastCPU, was_excluded);
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  // bf16 steps are 1/32 at the largest outputs here; LibTorch 1.13's CPU kernel (coarser than
  // CUDA's, which accumulates in fp32) stays within about one step of the rounded fp32 result.
  const auto ref = reference.to(torch::kFloat);
  const auto err = (y.to(torch::kFloat) - ref).abs();
  EXPECT_LE(err.max().item<double>(), 0.05);
  EXPECT_LT((err.norm() / ref.norm()).item<double>(), 1e-2);
}

// The block's layer scale and residual are one addcmul outside stochastic depth: the same result as
// the reference's mul-then-add, also when the branch comes out of autocast in bf16 (promoted to
// fp32 by the kernel, not by a cast).
TEST(ConvNeXtUnit, BlockFusesLayerScaleAndResidual) {
  torch::NoGradGuard no_grad;
  ConvNeXtBlock block(16, 0.0, 0.5);
  block->eval();
  const auto x = torch::randn({2, 16, 9, 9});
  auto y = block->conv_dw(x).permute({0, 2, 3, 1});
  y = block->mlp(block->norm(y)).permute({0, 3, 1, 2});
  const auto expected = y.mul(block->gamma.reshape({1, -1, 1, 1})) + x;
  EXPECT_TRUE(torch::allclose(block->forward(x), expected, 1e-6, 1e-6));

  const auto branch = torch::randn({2, 16, 9, 9}).to(torch::kBFloat16);
  const auto fused = at::addcmul(x, branch, block->gamma.reshape({1, -1, 1, 1}));
  EXPECT_EQ(fused.scalar_type(), torch::kFloat);
  EXPECT_TRUE(
      torch::allclose(fused, branch.to(torch::kFloat) * block->gamma.reshape({1, -1, 1, 1}) + x, 1e-6, 1e-6));
}

// Counts the aten::linear calls `run` makes on this thread.
int linear_calls(const std::function<void()>& run) {
  static thread_local int calls = 0;
  calls = 0;
  const auto handle = at::addThreadLocalCallback(
      at::RecordFunctionCallback([](const at::RecordFunction& fn) -> std::unique_ptr<at::ObserverContext> {
        if (std::string_view(fn.name()) == "aten::linear") ++calls;
        return nullptr;
      }));
  run();
  at::removeCallback(handle);
  return calls;
}

// The per-pixel MLP goes through at::linear (bias inside the GEMM on LibTorch 2.x), not the C++
// frontend's matmul-then-add, with the same result.
TEST(ConvNeXtUnit, MlpProjectsThroughAtLinear) {
  ConvNeXtMlp mlp(8, 32);
  const auto x = torch::randn({2, 5, 5, 8});
  at::Tensor y;
  EXPECT_EQ(linear_calls([&] { y = mlp->forward(x); }), 2);
  const auto hidden = at::gelu(x.matmul(mlp->fc1->weight.t()) + mlp->fc1->bias);
  EXPECT_TRUE(torch::allclose(y, hidden.matmul(mlp->fc2->weight.t()) + mlp->fc2->bias, 1e-6, 1e-6));

  ConvNeXt net(tiny_convnext());
  int64_t blocks = 0;
  for (const auto depth : tiny_convnext().depths) blocks += depth;
  torch::NoGradGuard no_grad;
  EXPECT_GE(linear_calls([&] { (void)net->forward(torch::randn({1, 3, 64, 64})); }), 2 * blocks);
}

TEST(ConvNeXtUnit, DropPathOnlyWhileTraining) {
  auto config = tiny_convnext();
  config.drop_path_rate = 0.5;
  config.layer_scale_init = 1.0;  // make every block matter
  ConvNeXt net(config);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({8, 3, 64, 64});
  net->eval();
  EXPECT_TRUE(torch::equal(net->forward(x), net->forward(x)));
  net->train();
  torch::manual_seed(3);
  const auto a = net->forward(x);
  const auto b = net->forward(x);
  EXPECT_FALSE(torch::allclose(a, b));
}

TEST(ConvNeXtUnit, LayerScaleOffHasNoGamma) {
  auto config = tiny_convnext();
  config.layer_scale_init = 0.0;
  const auto shapes = shapes_of(*ConvNeXt(config));
  EXPECT_EQ(shapes.count("stages.0.blocks.0.gamma"), 0u);
  EXPECT_EQ(shapes.count("stages.0.blocks.0.conv_dw.weight"), 1u);
  EXPECT_EQ(shapes.count("stages.0.downsample.0.weight"), 0u);  // stage 0 keeps the stem's width
  EXPECT_EQ(shapes.count("stages.1.downsample.1.weight"), 1u);
}

SwinConfig micro_swin() {
  SwinConfig s;
  s.embed_dim = 32;
  s.depths = {2, 2};
  s.num_heads = {1, 2};
  s.num_classes = 10;
  return s;
}

GenConViTConfig small_genconvit() {
  GenConViTConfig c;
  c.backbone = tiny_convnext();
  c.embedder = micro_swin();
  c.img_size = 64;
  c.latent_dims = 256 * 2 * 2;  // decoder: 2x2 -> 32x32 reconstruction
  return c;
}

TEST(GenConViTUnit, EdShapesAndHead) {
  GenConViTED net(small_genconvit());
  EXPECT_EQ(net->fc->options.in_features(), 20);
  EXPECT_EQ(net->fc->options.out_features(), 5);
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 64, 64});
  EXPECT_EQ(net->reconstruct(x).sizes(), x.sizes());
  EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{2, 2}));
}

// The documented head of each network, spelled out from its parts: concatenation order
// (A: reconstruction first, B: original first), activations (A: GELU, B: ReLU), B's 112x112-style
// reconstruction fed to the ConvNeXt unresized.
TEST(GenConViTUnit, HeadsComposeAsTheReference) {
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 64, 64});
  GenConViTED ed(small_genconvit());
  ed->eval();
  const auto decoded = ed->decoder(ed->encoder(x));
  const auto ed_features = torch::cat({ed->backbone(decoded), ed->backbone(x)}, 1);
  EXPECT_TRUE(
      torch::allclose(ed->forward(x), ed->fc2(torch::gelu(ed->fc(torch::gelu(ed_features)))), 1e-6, 1e-6));

  GenConViTVAE vae(small_genconvit());
  vae->eval();
  const auto reconstruction = vae->decoder(vae->encoder->mu(vae->encoder->features->forward(x).flatten(1)));
  EXPECT_EQ(reconstruction.size(2), 32);
  const auto vae_features =
      torch::cat({vae->convnext_backbone(x), vae->convnext_backbone(reconstruction)}, 1);
  EXPECT_TRUE(torch::allclose(vae->forward(x), vae->fc2(torch::relu(vae->fc(torch::relu(vae_features)))),
                              1e-6, 1e-6));
}

// With shortcuts off the networks run the reference's operators one for one: bit-identical to the
// spelled-out composition (mul then add; two backbone passes), and within 1e-5 of the shortcuts.
TEST(GenConViTUnit, ShortcutsOffRunTheReferenceOperators) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  GenConViTED ed(small_genconvit());
  ed->eval();
  for (auto& block : ed->backbone->modules(false))
    if (auto* b = block->as<ConvNeXtBlock>()) b->gamma.uniform_(0.5, 1.5);  // make the branch matter
  const auto x = torch::randn({2, 3, 64, 64});
  const auto with_shortcuts = ed->forward(x);
  at::Tensor reference, without;
  {
    const ScopedShortcuts off(false);
    const auto decoded = ed->decoder(ed->encoder(x));
    const auto features = torch::cat({ed->backbone(decoded), ed->backbone(x)}, 1);
    reference = ed->fc2(torch::gelu(ed->fc(torch::gelu(features))));
    without = ed->forward(x);
  }
  EXPECT_TRUE(torch::equal(without, reference));
  EXPECT_TRUE(torch::allclose(with_shortcuts, reference, 1e-5, 1e-5));
  EXPECT_TRUE(shortcuts_enabled());
}

// The Swin is shared by `embedder` and `backbone.patch_embed.backbone` and never runs.
TEST(GenConViTUnit, EmbedderIsSharedAndUnused) {
  GenConViTED net(small_genconvit());
  net->eval();
  torch::NoGradGuard no_grad;
  const auto params = net->named_parameters();
  ASSERT_TRUE(params.contains("embedder.patch_embed.proj.weight"));
  ASSERT_TRUE(params.contains("backbone.patch_embed.backbone.patch_embed.proj.weight"));
  EXPECT_EQ(params["embedder.patch_embed.proj.weight"].data_ptr(),
            params["backbone.patch_embed.backbone.patch_embed.proj.weight"].data_ptr());
  const auto x = torch::randn({1, 3, 64, 64});
  const auto before = net->forward(x);
  for (const auto& p : net->embedder->parameters()) p.normal_(0.0, 10.0);
  net->backbone->named_parameters()["patch_embed.proj.weight"].normal_(0.0, 10.0);
  EXPECT_TRUE(torch::equal(before, net->forward(x)));
}

TEST(GenConViTUnit, VaeShapesAndSamplingModes) {
  GenConViTVAE net(small_genconvit());
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 64, 64});
  EXPECT_EQ(net->sampling(), VaeSampling::mean);
  const auto mean_out = net->forward_with_reconstruction(x);
  EXPECT_EQ(mean_out.logits.sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(mean_out.reconstruction.sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_EQ(resize_reconstruction(mean_out.reconstruction, 64).sizes(), x.sizes());
  EXPECT_TRUE(torch::equal(mean_out.logits, net->forward(x)));  // deterministic

  net->set_sampling(VaeSampling::reference, 7);
  const auto a = net->forward(x);
  const auto a2 = net->forward(x);  // the stream moves on: a fresh draw
  net->set_sampling(VaeSampling::reference, 7);
  EXPECT_TRUE(torch::equal(a, net->forward(x)));  // same seed, same draw
  EXPECT_FALSE(torch::equal(a, a2));
  EXPECT_FALSE(torch::allclose(a, mean_out.logits));
  EXPECT_STREQ(to_string(net->sampling()), "reference");
}

// The reference draws eps with randn_like after torch.manual_seed; the CPU generator dfscan seeds
// produces the same stream. Values from Python: torch.manual_seed(42); torch.randn(2, 1024)[1, :4].
TEST(GenConViTUnit, ReferenceNoiseStreamMatchesPyTorch) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(42);
  const auto eps = at::randn({2, 1024}, gen, at::TensorOptions().dtype(at::kFloat));
  const auto expected = torch::tensor(std::vector<float>{-1.2247875928878784f, 0.962885856628418f,
                                                         -1.5785412788391113f, 0.6715953946113586f});
  EXPECT_TRUE(torch::allclose(eps[1].slice(0, 0, 4), expected, 0, 1e-6));
}

TEST(GenConViTUnit, RejectsBadConfigs) {
  auto c = small_genconvit();
  c.latent_dims = 1000;  // not 256 * s * s
  EXPECT_THROW(GenConViTVAE{c}, Error);
  c = small_genconvit();
  c.backbone.num_classes = 0;
  EXPECT_THROW(GenConViTED{c}, Error);
  c = small_genconvit();
  c.img_size = 50;
  EXPECT_THROW(GenConViTVAE{c}, Error);
}

}  // namespace
}  // namespace dfscan::nn
