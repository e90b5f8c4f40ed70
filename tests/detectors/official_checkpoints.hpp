#pragma once
// Official-layout GenConViT checkpoints made at test time by scripts/make-official-shape-checkpoints.py
// (Debian's /usr/bin/python3 with torch), in a folder under the build tree that is removed afterwards.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "dfscan/checkpoint.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/model_file.hpp"

namespace dfscan::test {

inline const std::filesystem::path kPython = "/usr/bin/python3";

inline std::filesystem::path official_shapes_json(const std::string& arch) {
  return std::filesystem::path(DFSCAN_SHARED_DIR) / "parity" /
         ("genconvit_" + arch + "_official_shapes.json");
}

// Why the generator cannot run here, or "" when it can.
inline std::string generator_unavailable(const std::string& arch) {
  if (!std::filesystem::exists(official_shapes_json(arch)))
    return "fixture absent: " + official_shapes_json(arch).string();
  if (!std::filesystem::exists(kPython)) return kPython.string() + " absent";
  const std::string probe = kPython.string() + " -c 'import torch' >/dev/null 2>&1";
  if (std::system(probe.c_str()) != 0) return "torch is not importable by " + kPython.string();
  return "";
}

inline std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs the generator with `args` (after --arch and --shapes); true on success.
inline bool run_generator(const std::string& arch, const std::vector<std::string>& args) {
  std::string command =
      quoted(kPython.string()) + " " +
      quoted(std::string(DFSCAN_SOURCE_DIR) + "/scripts/make-official-shape-checkpoints.py") + " --arch " +
      arch + " --shapes " + quoted(official_shapes_json(arch).string());
  for (const auto& a : args) command += " " + quoted(a);
  return std::system(command.c_str()) == 0;
}

// A folder in the build tree for one test's large files; its files are removed one by one at the end
// (std::filesystem::remove_all is broken in PyTorch 2.x's libtorch.so).
struct BuildTempDir {
  std::filesystem::path path = std::filesystem::path(DFSCAN_BINARY_DIR) / "tests" / "detectors" /
                               ("official_" + std::to_string(::getpid()) + "_" +
                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
  BuildTempDir() { std::filesystem::create_directories(path); }
  ~BuildTempDir() {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(path, ec)) std::filesystem::remove(e.path(), ec);
    std::filesystem::remove(path, ec);
  }
};

// Every tensor of the model file equals the checkpoint's tensor of the same name, read one at a time.
inline void expect_same_weights(const std::filesystem::path& pth, const std::filesystem::path& model) {
  io::PthReader checkpoint(pth);
  const auto file = io::read_model_file(model);
  ASSERT_EQ(file.tensors.size(), checkpoint.entries().size());
  for (const auto& [name, tensor] : file.tensors) {
    const auto expected = checkpoint.load(name);
    EXPECT_TRUE(torch::equal(tensor, expected.to(tensor.scalar_type()))) << name;
    file.release_pages(tensor.data_ptr(), tensor.nbytes());
  }
}

// Makes the generator's checkpoint (`generator`: ed, vae) as dir/<generator>.pth and imports it
// strictly as `arch` into `model`: nothing may be left over, and every tensor must arrive unchanged.
// Use through ASSERT_NO_FATAL_FAILURE.
inline void import_official(const std::string& generator, const std::string& arch, const BuildTempDir& dir,
                            const std::filesystem::path& model) {
  const auto pth = dir.path / (generator + ".pth");
  ASSERT_TRUE(run_generator(generator, {"-o", pth.string()}));
  ImportOptions options;
  options.arch = arch;
  options.strict = true;
  const auto result = import_checkpoint(pth, model, options);
  EXPECT_TRUE(result.unexpected_keys.empty());
  expect_same_weights(pth, model);
}

}  // namespace dfscan::test
