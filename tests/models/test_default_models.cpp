// The shipped default models in models/: each loads through dfscan::Detector, runs, and has a model
// card that names its exact file (content hash) and has the sections a card must have.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "dfscan/detector.hpp"

namespace {
namespace fs = std::filesystem;

const fs::path kModels = fs::path(DFSCAN_SOURCE_DIR) / "models";
constexpr std::uintmax_t kMaxModelBytes = 30u << 20;
constexpr std::uintmax_t kMaxTotalBytes = 60u << 20;

std::vector<fs::path> shipped_models() {
  std::vector<fs::path> out;
  if (!fs::is_directory(kModels)) return out;
  for (const auto& e : fs::directory_iterator(kModels))
    if (e.path().extension() == ".safetensors") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

dfscan::Detector load(const std::string& stem) {
  return dfscan::Detector::load((kModels / (stem + ".safetensors")).string(), c10::Device(c10::kCPU));
}

TEST(DefaultModels, TheScanDefaultsAreShippedWithinTheSizeBudget) {
  const auto models = shipped_models();
  std::set<std::string> stems;
  std::uintmax_t total = 0;
  for (const auto& m : models) {
    stems.insert(m.stem().string());
    EXPECT_LE(fs::file_size(m), kMaxModelBytes) << m;
    total += fs::file_size(m);
  }
  EXPECT_TRUE(stems.count("genconvit-ed-atto"));
  EXPECT_TRUE(stems.count("npr-proxy"));
  EXPECT_LE(total, kMaxTotalBytes);
}

TEST(DefaultModels, EveryModelLoadsAndHasAnHonestCard) {
  const auto models = shipped_models();
  ASSERT_FALSE(models.empty());
  for (const auto& path : models) {
    SCOPED_TRACE(path.string());
    const auto detector = dfscan::Detector::load(path.string(), c10::Device(c10::kCPU));
    EXPECT_EQ(detector.name(), path.stem().string());
    EXPECT_GT(detector.threshold(), 0.0);
    EXPECT_LT(detector.threshold(), 1.0);

    const auto card_path = fs::path(path).replace_extension(".md");
    ASSERT_TRUE(fs::exists(card_path)) << "no model card " << card_path;
    const auto card = read_text(card_path);
    // The card describes this very file, not an earlier one.
    EXPECT_NE(card.find(detector.hash()), std::string::npos) << "card does not name " << detector.hash();
    for (const char* section : {"## Data", "## Recipe", "## Held-out metrics",
                                "## Where it must not be trusted", "## Reproduce", "## Terms"})
      EXPECT_NE(card.find(section), std::string::npos) << "card lacks " << section;
    EXPECT_NE(card.find("95 % bootstrap"), std::string::npos) << "metrics need their bootstrap intervals";
    EXPECT_NE(card.find("scripts/make-default-models.sh"), std::string::npos);

    // Trained by dfscan's trainer, which selects on the validation split only.
    const auto& training = detector.manifest().at("training");
    EXPECT_GT(training.at("splits").at("train").value("n", 0), 0);
    EXPECT_GT(training.at("splits").at("valid").value("n", 0), 0);
    EXPECT_NE(training.value("selection", "").find("test split never used"), std::string::npos);
  }
}

TEST(DefaultModels, VideoModelHasASaneFaceSetupAndRuns) {
  const auto detector = load("genconvit-ed-atto");
  EXPECT_EQ(detector.arch(), "genconvit-ed");
  EXPECT_EQ(detector.modality(), "face");
  const auto& m = detector.manifest();
  const auto& input = m.at("input");
  const auto& faces = m.at("faces");
  const int64_t size = input.at("size").get<int64_t>();
  EXPECT_EQ(input.value("resize", ""), "resize");
  // The autoencoder halves the side five times and the decoder doubles it back: a multiple of 32 keeps
  // the reconstruction at the input's size.
  EXPECT_EQ(size % 32, 0);
  EXPECT_GE(size, 64);
  EXPECT_EQ(faces.at("input_size").get<int64_t>(), size);
  EXPECT_FALSE(faces.at("detector").get<std::string>().empty());
  const int frames = faces.at("frames").get<int>();
  EXPECT_GE(frames, 1);
  EXPECT_LE(frames, 64);
  const double margin = faces.at("margin").get<double>();
  EXPECT_GE(margin, 0.0);
  EXPECT_LE(margin, 1.0);
  EXPECT_EQ(input.at("mean").size(), 3u);
  EXPECT_EQ(input.at("std").size(), 3u);
  // The DFDC test crops stay out of training: its data file lists no test rows.
  EXPECT_FALSE(m.at("training").at("splits").contains("test"));
  EXPECT_NE(m.value("terms", "").find("research only"), std::string::npos);

  torch::NoGradGuard no_grad;
  const auto face = torch::randint(0, 256, {224, 200, 3}, torch::kUInt8);
  const auto prepared = detector.prepare(face);
  ASSERT_EQ(prepared.sizes(), (std::vector<int64_t>{3, size, size}));
  const auto scores = detector.scores(detector.logits(prepared.unsqueeze(0)));
  ASSERT_EQ(scores.numel(), 1);
  EXPECT_GE(scores.item<double>(), 0.0);
  EXPECT_LE(scores.item<double>(), 1.0);
}

TEST(DefaultModels, ImageModelTakesNativeSizeInputsAndRuns) {
  const auto detector = load("npr-proxy");
  EXPECT_EQ(detector.arch(), "npr");
  EXPECT_EQ(detector.modality(), "image");
  const auto& input = detector.manifest().at("input");
  // NPR looks at 2x2 pixel neighbourhoods: resampling the image would erase what it looks for.
  EXPECT_EQ(input.value("resize", ""), "native");
  EXPECT_TRUE(input.value("even_crop", false));

  torch::NoGradGuard no_grad;
  const auto image = torch::randint(0, 256, {81, 97, 3}, torch::kUInt8);
  const auto prepared = detector.prepare(image);
  ASSERT_EQ(prepared.sizes(), (std::vector<int64_t>{3, 80, 96}));
  const auto scores = detector.scores(detector.logits(prepared.unsqueeze(0)));
  ASSERT_EQ(scores.numel(), 1);
  EXPECT_GE(scores.item<double>(), 0.0);
  EXPECT_LE(scores.item<double>(), 1.0);
}

}  // namespace

namespace {

// The scan pipeline asks for the defaults by bare name; from a build tree they resolve to models/.
TEST(DefaultModels, BareNamesResolveForTheScanPipeline) {
  const auto empty = std::filesystem::temp_directory_path() / "dfscan-test-no-user-models";
  std::filesystem::create_directories(empty);
  ::setenv("DFSCAN_MODELS_DIR", empty.c_str(), 1);  // keep a user's own models out of the way
  for (const char* name : {"genconvit-ed-atto", "npr-proxy"}) {
    const auto resolved = dfscan::resolve_model(name);
    EXPECT_EQ(resolved.filename(), std::string(name) + ".safetensors");
    EXPECT_EQ(dfscan::Detector::load(name, c10::Device(c10::kCPU)).name(), name);
  }
  ::unsetenv("DFSCAN_MODELS_DIR");
}

}  // namespace
