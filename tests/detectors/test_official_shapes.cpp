// GenConViT-ED checkpoints with the official layout (convnext_tiny, swin_tiny; random values) import and
// load strictly; a checkpoint missing one key, or holding one under another name, is refused by name.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "dfscan/detector.hpp"
#include "dfscan/status.hpp"
#include "official_checkpoints.hpp"

namespace fs = std::filesystem;
using namespace dfscan;

namespace {

#define DFSCAN_NEED_GENERATOR(arch)                                       \
  do {                                                                    \
    const std::string why = test::generator_unavailable(arch);            \
    if (!why.empty()) GTEST_SKIP() << "cannot make checkpoints: " << why; \
  } while (0)

std::string import_error(const fs::path& src, const fs::path& out, bool strict) {
  ImportOptions options;
  options.arch = "genconvit-ed";
  options.strict = strict;
  try {
    import_checkpoint(src, out, options);
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
    return e.what();
  }
  ADD_FAILURE() << "import of " << src << " succeeded";
  return "";
}

TEST(OfficialShapes, EdImportsAndLoadsStrictly) {
  DFSCAN_NEED_GENERATOR("ed");
  test::BuildTempDir tmp;
  const auto model = tmp.path / "ed.safetensors";
  ASSERT_NO_FATAL_FAILURE(test::import_official("ed", "genconvit-ed", tmp, model));

  // The configuration came from the shapes alone: the published convnext_tiny and swin_tiny.
  auto detector = Detector::load(model.string(), c10::Device(c10::kCPU));
  const auto& config = detector.manifest()["config"];
  EXPECT_EQ(config["backbone"]["depths"], (std::vector<int64_t>{3, 3, 9, 3}));
  EXPECT_EQ(config["backbone"]["dims"], (std::vector<int64_t>{96, 192, 384, 768}));
  EXPECT_EQ(config["embedder"]["embed_dim"], 96);
  EXPECT_EQ(config["embedder"]["depths"], (std::vector<int64_t>{2, 2, 6, 2}));
  const auto logits = detector.logits(torch::randn({1, 3, 224, 224}));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
}

TEST(OfficialShapes, EdMissingKeyIsNamed) {
  DFSCAN_NEED_GENERATOR("ed");
  test::BuildTempDir tmp;
  const std::string key = "backbone.stages.2.blocks.4.mlp.fc2.weight";
  const auto pth = tmp.path / "missing.pth";
  ASSERT_TRUE(test::run_generator("ed", {"--without", key, pth.string()}));
  const auto out = tmp.path / "m.safetensors";
  for (bool strict : {false, true}) {
    const auto message = import_error(pth, out, strict);
    EXPECT_NE(message.find("missing"), std::string::npos) << message;
    EXPECT_NE(message.find(key), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST(OfficialShapes, EdRenamedKeyIsNamed) {
  DFSCAN_NEED_GENERATOR("ed");
  test::BuildTempDir tmp;
  const std::string old_key = "backbone.stages.1.blocks.0.norm.weight";
  const std::string new_key = "backbone.stages.1.blocks.0.norm.scale";
  const auto pth = tmp.path / "renamed.pth";
  ASSERT_TRUE(test::run_generator("ed", {"--renamed", old_key, new_key, pth.string()}));
  const auto out = tmp.path / "m.safetensors";
  // Either way the expected name is missing; strict import names the stray one too.
  auto message = import_error(pth, out, false);
  EXPECT_NE(message.find(old_key), std::string::npos) << message;
  message = import_error(pth, out, true);
  EXPECT_NE(message.find(old_key), std::string::npos) << message;
  EXPECT_NE(message.find(new_key), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
