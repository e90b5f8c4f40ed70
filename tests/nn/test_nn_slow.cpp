// The published network B at full size (695 M parameters, 2.6 GB fp32): its layout must equal the
// official checkpoint's so that genconvit_vae_inference.pth loads strictly.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>

#include "dfscan/nn/genconvit.hpp"
#include "dfscan/nn/infer_config.hpp"
#include "dfscan/nn/npr.hpp"
#include "nn_test_util.hpp"

namespace dfscan::nn {
namespace {

TEST(NnLayoutSlow, GenConViTVaeOfficialSize) {
  const auto path = test::parity_dir() / "genconvit_vae_official_shapes.json";
  DFSCAN_NEED_FIXTURE(path);
  const auto expected = test::read_shapes_json(path);
  GenConViTVAE net(infer_genconvit_config(expected, GenConViTArch::vae));
  const auto actual = shapes_of(*net);
  EXPECT_EQ(test::describe_difference(expected, actual), "");
  EXPECT_EQ(actual.size(), expected.size());
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  std::printf("GenConViT-VAE parameters (Swin counted under both names): %lld\n",
              static_cast<long long>(params));
}

}  // namespace
}  // namespace dfscan::nn

namespace dfscan::nn {
namespace {

template <typename Net>
double mean_forward_ms(Net& net, const at::Tensor& x, int repeats) {
  torch::NoGradGuard no_grad;
  net->eval();
  net->forward(x);  // warm-up
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) EXPECT_TRUE(torch::isfinite(net->forward(x)).all().template item<bool>());
  const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / repeats;
}

// CPU latency of the published network sizes (random weights), batch 1, fp32.
TEST(NnTimingSlow, PublishedSizesOnCpu) {
  const auto x = torch::randn({1, 3, 224, 224});
  NprNet npr;
  std::printf("[timing] NPR 224x224: %.1f ms/image\n", mean_forward_ms(npr, x, 5));
  GenConViTED ed(GenConViTConfig::official());
  std::printf("[timing] GenConViT-ED (convnext_tiny) 224x224: %.1f ms/image\n", mean_forward_ms(ed, x, 3));
}

}  // namespace
}  // namespace dfscan::nn
