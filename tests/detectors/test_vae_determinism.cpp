// GenConViT-VAE through a loaded Detector: the default (z = mu) gives identical logits on every run
// and every load; the reference's noisy sampling is reproducible with a fixed seed.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "../common/scoped_temp_dir.hpp"
#include "detectors/architecture.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/status.hpp"

using namespace dfscan;

namespace {

// A small VAE (64x64 input) written as a model file with random weights.
std::string small_vae_model(const std::filesystem::path& dir) {
  const auto& arch = detectors::find_architecture("genconvit-vae");
  const nlohmann::json config = {
      {"backbone", {{"depths", {1, 1, 2, 1}}, {"dims", {8, 16, 24, 32}}, {"num_classes", 10}}},
      {"embedder", {{"embed_dim", 32}, {"depths", {2, 2}}, {"num_heads", {1, 2}}, {"num_classes", 10}}},
      {"hybrid_embed_dim", 8},
      {"img_size", 64},
      {"latent_dims", 256 * 2 * 2}};
  torch::manual_seed(11);
  auto net = arch.build(config);
  io::StateDict weights;
  for (const auto& p : net->named_parameters()) weights.insert(p.key(), p.value().detach());
  for (const auto& b : net->named_buffers()) weights.insert(b.key(), b.value().detach());
  nlohmann::json manifest = arch.defaults();
  manifest["arch"] = arch.name;
  manifest["modality"] = arch.modality;
  manifest["config"] = config;
  const auto path = dir / "vae.safetensors";
  io::write_model_file(path, weights, manifest);
  return path.string();
}

TEST(VaeDeterminism, MeanIsIdenticalAcrossRunsAndLoads) {
  test::ScopedTempDir tmp("vae-det");
  const auto model = small_vae_model(tmp.path());
  torch::manual_seed(1);
  const auto x = torch::randn({3, 3, 64, 64});
  auto first = Detector::load(model, c10::Device(c10::kCPU));
  const auto a = first.logits(x);
  torch::manual_seed(99);  // the global generator plays no part
  EXPECT_TRUE(torch::equal(a, first.logits(x)));
  auto second = Detector::load(model, c10::Device(c10::kCPU));
  EXPECT_TRUE(torch::equal(a, second.logits(x)));
  second.configure({{"vae_sampling", "mean"}, {"seed", 5}});
  EXPECT_TRUE(torch::equal(a, second.logits(x))) << "the seed does not matter for z = mu";
}

TEST(VaeDeterminism, ReferenceSamplingIsReproducibleWithASeed) {
  test::ScopedTempDir tmp("vae-det");
  const auto model = small_vae_model(tmp.path());
  const auto x = torch::randn({3, 3, 64, 64});
  auto d = Detector::load(model, c10::Device(c10::kCPU));
  const auto mean = d.logits(x);

  d.configure({{"vae_sampling", "reference"}, {"seed", 7}});
  const auto a = d.logits(x);
  const auto a_next = d.logits(x);
  auto other = Detector::load(model, c10::Device(c10::kCPU));
  other.configure({{"vae_sampling", "reference"}, {"seed", 7}});
  EXPECT_TRUE(torch::equal(a, other.logits(x))) << "same seed, same draw, in another detector";
  EXPECT_TRUE(torch::equal(a_next, other.logits(x))) << "and the same stream after it";
  d.configure({{"vae_sampling", "reference"}, {"seed", 7}});
  EXPECT_TRUE(torch::equal(a, d.logits(x))) << "re-seeding restarts the stream";
  d.configure({{"vae_sampling", "reference"}, {"seed", 8}});
  EXPECT_FALSE(torch::equal(a, d.logits(x)));
  EXPECT_FALSE(torch::allclose(a, mean));
  EXPECT_THROW(d.configure({{"vae_sampling", "sometimes"}}), Error);
}

}  // namespace
