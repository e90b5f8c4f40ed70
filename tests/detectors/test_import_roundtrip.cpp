// .pth -> dfscan model file -> Detector: the same logits as the reference, a stable content hash,
// and clear errors for checkpoints that do not fit.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "dfscan/checkpoint.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/status.hpp"

namespace fs = std::filesystem;
using namespace dfscan;

namespace {
const fs::path kParity = fs::path(DFSCAN_SHARED_DIR) / "parity";

struct TempDir {
  fs::path path =
      fs::temp_directory_path() / ("dfscan_det_" + std::to_string(::getpid()) + "_" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::create_directories(path); }
  // One level of files, removed one by one: std::filesystem::remove_all resolves to a broken copy
  // exported by PyTorch 2.x wheels' libtorch.so and crashes there.
  ~TempDir() {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(path, ec)) fs::remove(e.path(), ec);
    fs::remove(path, ec);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// Imports `case_dir`/weights.pth as `arch` and checks logits on io files against the reference.
void expect_roundtrip(const std::string& arch, const std::string& case_name,
                      const std::vector<std::string>& io_files) {
  const auto dir = kParity / case_name;
  if (!fs::exists(dir)) GTEST_SKIP() << "fixtures absent: " << dir;
  TempDir tmp;
  ImportOptions options;
  options.arch = arch;
  options.strict = true;
  options.name = "roundtrip";  // the default name is the file stem, which differs below
  const auto out = tmp.path / "model.safetensors";
  const auto result = import_checkpoint(dir / "weights.pth", out, options);
  EXPECT_TRUE(result.unexpected_keys.empty());
  EXPECT_EQ(result.hash.rfind("sha256:", 0), 0u);

  auto det = Detector::load(out.string(), c10::Device(c10::kCPU));
  EXPECT_EQ(det.arch(), arch);
  EXPECT_EQ(det.hash(), result.hash);
  for (const auto& io_name : io_files) {
    const auto io = io::read_pth(dir / io_name);
    const double diff = max_abs_diff(det.logits(io.at("input")), io.at("output"));
    std::printf("[parity] %s/%s via model file: max abs diff %.3g\n", case_name.c_str(), io_name.c_str(),
                diff);
    EXPECT_LE(diff, 1e-4);
  }

  // Same weights, same manifest: byte-identical file and the same hash.
  const auto again = tmp.path / "again.safetensors";
  const auto result2 = import_checkpoint(dir / "weights.pth", again, options);
  EXPECT_EQ(result2.hash, result.hash);
  EXPECT_TRUE(slurp(again) == slurp(out)) << "re-import is not byte-identical";
}
}  // namespace

TEST(DetectorImport, NprRoundTripMatchesReference) {
  expect_roundtrip("npr", "npr_resnet50", {"io.pth", "io_256x200.pth"});
}

TEST(DetectorImport, GenConViTEdRoundTripMatchesReference) {
  expect_roundtrip("genconvit-ed", "genconvit_ed_atto", {"io.pth"});
}

TEST(DetectorImport, ManifestCarriesPreprocessingAndFaceSetup) {
  const auto dir = kParity / "genconvit_ed_atto";
  if (!fs::exists(dir)) GTEST_SKIP() << "fixtures absent";
  TempDir tmp;
  ImportOptions options;
  options.arch = "genconvit-ed";
  options.threshold = 0.7;
  options.name = "ed-test";
  import_checkpoint(dir / "weights.pth", tmp.path / "m.safetensors", options);
  auto det = Detector::load((tmp.path / "m.safetensors").string(), c10::Device(c10::kCPU));
  const auto& m = det.manifest();
  EXPECT_EQ(det.name(), "ed-test");
  EXPECT_EQ(det.modality(), "face");
  EXPECT_DOUBLE_EQ(det.threshold(), 0.7);
  EXPECT_EQ(m["faces"]["detector"], "dlib-hog");
  EXPECT_EQ(m["faces"]["frames"], 15);
  EXPECT_DOUBLE_EQ(m["faces"]["margin"].get<double>(), 0.0);
  EXPECT_EQ(m["score"]["activation"], "softmax");
  EXPECT_EQ(m["score"]["fake_index"], 0);
  EXPECT_EQ(m["config"]["backbone"]["dims"], (std::vector<int64_t>{40, 80, 160, 320}));
}

TEST(DetectorImport, WrongArchitectureNamesTheMissingKey) {
  const auto dir = kParity / "npr_resnet50";
  if (!fs::exists(dir)) GTEST_SKIP() << "fixtures absent";
  TempDir tmp;
  ImportOptions options;
  options.arch = "genconvit-ed";
  try {
    import_checkpoint(dir / "weights.pth", tmp.path / "m.safetensors", options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("backbone."), std::string::npos) << e.what();
    // ...and which --arch the checkpoint does fit.
    EXPECT_NE(std::string(e.what()).find("layout is that of --arch npr"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp.path / "m.safetensors"));
}

TEST(DetectorImport, UnknownArchitectureIsRefusedByName) {
  TempDir tmp;
  ImportOptions options;
  options.arch = "no-such-arch";
  try {
    import_checkpoint(tmp.path / "whatever.pth", tmp.path / "x.safetensors", options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown architecture 'no-such-arch'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("npr"), std::string::npos) << "lists the known ones";
  }
}

TEST(DetectorLoad, ManifestThatDisagreesWithItsArchitectureIsRefused) {
  const auto dir = kParity / "npr_resnet50";
  if (!fs::exists(dir)) GTEST_SKIP() << "fixtures absent";
  TempDir tmp;
  ImportOptions options;
  options.arch = "npr";
  import_checkpoint(dir / "weights.pth", tmp.path / "m.safetensors", options);
  auto file = io::read_model_file(tmp.path / "m.safetensors");
  auto manifest = file.manifest;
  manifest["modality"] = "face";
  io::write_model_file(tmp.path / "bad.safetensors", file.tensors, manifest);
  try {
    Detector::load((tmp.path / "bad.safetensors").string(), c10::Device(c10::kCPU));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("modality"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Detector::load((tmp.path / "none.safetensors").string(), c10::Device(c10::kCPU)), Error);
  EXPECT_THROW(Detector::load("no-such-model-name", c10::Device(c10::kCPU)), Error);
}

TEST(DetectorLoad, NonFiniteOutputsAreAnErrorNotAScore) {
  // Before, a NaN weight gave a record with status ok, score null and label "real".
  const auto dir = kParity / "npr_resnet50";
  if (!fs::exists(dir)) GTEST_SKIP() << "fixtures absent";
  TempDir tmp;
  ImportOptions options;
  options.arch = "npr";
  options.name = "broken";
  const auto healthy = import_checkpoint(dir / "weights.pth", tmp.path / "m.safetensors", options);
  EXPECT_TRUE(healthy.non_finite_tensors.empty());
  auto file = io::read_model_file(tmp.path / "m.safetensors");
  io::StateDict broken;
  for (const auto& [name, t] : file.tensors) {
    auto copy = t.clone();
    if (name == "fc1.weight") copy.view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
    broken.insert(name, copy);
  }
  io::write_model_file(tmp.path / "nan.safetensors", broken, file.manifest);
  auto det = Detector::load((tmp.path / "nan.safetensors").string(), c10::Device(c10::kCPU));
  const auto image = torch::rand({1, 3, 32, 32});
  try {
    det.logits(image);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model 'broken' gave a non-finite output"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(det.logits({image[0], image[0]}, 1), Error);
}
