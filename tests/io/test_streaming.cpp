// The one-tensor-at-a-time paths that large models take: PthReader (checkpoint), ModelFileWriter
// (model file) and page release after copying out of a mapped model file.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../common/scoped_temp_dir.hpp"
#include "dfscan/checkpoint.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/status.hpp"

namespace fs = std::filesystem;
using namespace dfscan;

namespace {

fs::path fixture(const std::string& name) {
  return fs::path(DFSCAN_SOURCE_DIR) / "tests/data/io" / name;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Resident pages of the calling process, from /proc/self/statm.
int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

TEST(PthReader, SameTensorsAsReadPthOneAtATime) {
  for (const char* name : {"views.pth", "dtypes.pth", "model_module_prefix.pth", "wrapped_state_dict.pth"}) {
    SCOPED_TRACE(name);
    const auto all = io::read_pth(fixture(name));
    io::PthReader reader(fixture(name));
    ASSERT_EQ(reader.entries().size(), all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      const auto& [key, tensor] = all.entry(i);
      const auto& e = reader.entries()[i];
      EXPECT_EQ(e.name, key);
      EXPECT_EQ(e.dtype, tensor.scalar_type());
      EXPECT_EQ(e.sizes, tensor.sizes().vec());
      EXPECT_TRUE(torch::equal(reader.load(key), tensor)) << key;
    }
  }
}

TEST(PthReader, ErrorsNameTheFileAndTheKey) {
  io::PthReader reader(fixture("views.pth"));
  try {
    reader.load("no.such.key");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("views.pth"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'no.such.key'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(
      {
        io::PthReader damaged(fixture("missing_storage.pth"));
        for (const auto& e : damaged.entries()) damaged.load(e.name);
      },
      Error);
  EXPECT_THROW(io::PthReader{fixture("legacy.pth")}, Error);
}

TEST(CheckKeys, NamesMissingUnexpectedAndMisshapenKeys) {
  const io::NamedShapes model = {{"a", {2}}, {"b", {3, 4}}};
  EXPECT_TRUE(io::check_keys(model, {{"a", {2}}, {"b", {3, 4}}}, true).unexpected.empty());
  EXPECT_EQ(io::check_keys(model, {{"a", {2}}, {"b", {3, 4}}, {"c", {1}}}, false).unexpected,
            std::vector<std::string>{"c"});
  EXPECT_THROW(io::check_keys(model, {{"a", {2}}, {"b", {3, 4}}, {"c", {1}}}, true), Error);
  try {
    io::check_keys(model, {{"a", {2}}, {"B", {3, 4}}}, true);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing from the checkpoint: b"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unexpected checkpoint key(s): B"), std::string::npos) << e.what();
  }
  try {
    io::check_keys(model, {{"a", {2}}, {"b", {4, 3}}}, false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'b': checkpoint [4, 3], model [3, 4]"), std::string::npos)
        << e.what();
  }
}

io::StateDict sample_state() {
  torch::manual_seed(3);
  io::StateDict s;
  s.insert("w", torch::randn({5, 7}));
  s.insert("idx", torch::arange(6, torch::kLong));
  s.insert("half", torch::randn({3}).to(torch::kHalf));
  s.insert("flag", torch::tensor({true, false}));
  return s;
}

TEST(ModelFileWriter, StreamingInAnyOrderEqualsWriteModelFile) {
  test::ScopedTempDir tmp("stream");
  const auto state = sample_state();
  const nlohmann::json manifest = {{"arch", "x"}, {"note", "streamed"}};
  const auto whole = tmp / "whole.safetensors";
  const auto hash = io::write_model_file(whole, state, manifest);

  std::vector<io::ModelFileWriter::Spec> specs;
  for (const auto& [name, t] : state) specs.push_back({name, t.scalar_type(), t.sizes().vec()});
  const auto streamed = tmp / "streamed.safetensors";
  {
    io::ModelFileWriter writer(streamed, specs, manifest);
    for (size_t i = state.size(); i-- > 0;) writer.write(state.entry(i).first, state.entry(i).second);
    EXPECT_EQ(writer.commit(), hash);
  }
  EXPECT_TRUE(slurp(whole) == slurp(streamed));
  EXPECT_EQ(io::read_model_file(streamed).manifest["hash"], hash);
  EXPECT_EQ(io::content_hash(state, manifest), hash);
}

TEST(ModelFileWriter, RefusesWhatWasNotDeclaredAndLeavesNothingBehind) {
  test::ScopedTempDir tmp("stream");
  const auto out = tmp / "m.safetensors";
  {
    io::ModelFileWriter writer(out, {{"a", at::kFloat, {2}}, {"b", at::kFloat, {3}}},
                               nlohmann::json::object());
    EXPECT_THROW(writer.write("c", torch::zeros({2})), Error);
    EXPECT_THROW(writer.write("a", torch::zeros({3})), Error);                // wrong shape
    EXPECT_THROW(writer.write("a", torch::zeros({2}, torch::kLong)), Error);  // wrong dtype
    writer.write("a", torch::zeros({2}));
    EXPECT_THROW(writer.write("a", torch::zeros({2})), Error);  // twice
    EXPECT_THROW(writer.commit(), Error);                       // "b" never written
  }
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(tmp.path())) ADD_FAILURE() << "left behind: " << e.path();
  EXPECT_THROW(
      io::ModelFileWriter(out, {{"a", at::kFloat, {2}}, {"a", at::kFloat, {2}}}, nlohmann::json::object()),
      Error);
}

// Copying a mapped model into a module with page release leaves the values intact and the file's pages
// out of the resident set.
TEST(ModelFilePages, LoadWithReleaseKeepsValuesAndDropsPages) {
  test::ScopedTempDir tmp("stream");
  torch::nn::Linear net(1024, 4096);  // 16 MiB of weights
  torch::manual_seed(5);
  io::StateDict state;
  state.insert("weight", torch::randn({4096, 1024}));
  state.insert("bias", torch::randn({4096}));
  const auto path = tmp / "linear.safetensors";
  io::write_model_file(path, state, nlohmann::json::object());

  const auto file = io::read_model_file(path);
  const int64_t before = resident_bytes();
  const auto& w = file.tensors.at("weight");
  (void)w.sum().item<double>();  // touches every page of the mapped weight
  const int64_t touched = resident_bytes();
  EXPECT_GT(touched - before, 12 << 20) << "reading the mapped weight makes it resident";
  io::load_into(*net, file.tensors, true, [&](const void* p, size_t n) { file.release_pages(p, n); });
  EXPECT_LT(resident_bytes() - before, 4 << 20) << "its pages were handed back";
  EXPECT_TRUE(torch::equal(net->weight, state.at("weight")));
  EXPECT_TRUE(torch::equal(net->bias, state.at("bias")));
  EXPECT_TRUE(torch::equal(w, state.at("weight"))) << "released pages read the file again";
}

}  // namespace
