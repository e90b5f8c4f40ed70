// The published network B at full size (695 M parameters, 2.6 GB fp32): its layout must equal the
// official checkpoint's so that genconvit_vae_inference.pth loads strictly.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dfscan/nn/genconvit.hpp"
#include "dfscan/nn/infer_config.hpp"
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
