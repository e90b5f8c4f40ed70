// The GenConViT-VAE checkpoint at the official size (2.6 GB of weights, random values) imports tensor by
// tensor and loads strictly into the official-size network. Slow: it writes and reads several GB.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "dfscan/detector.hpp"
#include "dfscan/status.hpp"
#include "official_checkpoints.hpp"

using namespace dfscan;

namespace {

TEST(OfficialShapesSlow, VaeImportsAndLoadsStrictly) {
  const std::string why = test::generator_unavailable("vae");
  if (!why.empty()) GTEST_SKIP() << "cannot make checkpoints: " << why;
  test::BuildTempDir tmp;
  const auto model = tmp.path / "vae.safetensors";
  ASSERT_NO_FATAL_FAILURE(test::import_official("vae", "genconvit-vae", tmp, model));

  auto detector = Detector::load(model.string(), c10::Device(c10::kCPU));
  const auto& config = detector.manifest()["config"];
  EXPECT_EQ(config["backbone"]["dims"], (std::vector<int64_t>{96, 192, 384, 768}));
  EXPECT_EQ(config["latent_dims"], 12544);
  const auto x = torch::randn({1, 3, 224, 224});
  const auto logits = detector.logits(x);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
  EXPECT_TRUE(torch::equal(logits, detector.logits(x))) << "z = mu by default";
}

}  // namespace
