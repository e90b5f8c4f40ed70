// read_pth on committed fixtures (scripts/make-io-fixtures.py) and load_into on small modules.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "../common/expect_error.hpp"
#include "dfscan/checkpoint.hpp"
#include "dfscan/status.hpp"

namespace fs = std::filesystem;
using dfscan::Error;
using dfscan::Status;
using dfscan::io::load_into;
using dfscan::io::read_pth;
using dfscan::io::StateDict;
using dfscan::test::expect_error;

namespace {

fs::path fixture(const std::string& name) {
  return fs::path(DFSCAN_SOURCE_DIR) / "tests/data/io" / name;
}

struct Net : torch::nn::Module {
  Net() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)));
    bn = register_module("bn", torch::nn::BatchNorm2d(4));
    fc = register_module("fc", torch::nn::Linear(4, 2));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};

StateDict full_state(Net& net) {
  StateDict s;
  for (const auto& p : net.named_parameters()) s.insert(p.key(), torch::randn(p.value().sizes()));
  for (const auto& b : net.named_buffers())
    s.insert(b.key(), torch::ones(b.value().sizes(), b.value().options()) * 3);
  return s;
}

at::ScalarType dtype_named(const std::string& name) {
  static const std::map<std::string, at::ScalarType> kNames{
      {"float32", at::kFloat}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16}, {"float64", at::kDouble},
      {"int64", at::kLong},    {"int32", at::kInt},    {"int16", at::kShort},       {"int8", at::kChar},
      {"uint8", at::kByte},    {"bool", at::kBool}};
  return kNames.at(name);
}

nlohmann::json expected() {
  std::ifstream in(fixture("expected.json"));
  return nlohmann::json::parse(in);
}

}  // namespace

TEST(ReadPth, FixturesLoadWithPythonsKeysDtypesShapesAndValues) {
  auto all = expected()["load"];
  ASSERT_GE(all.size(), 7u);
  for (const auto& [file, entries] : all.items()) {
    SCOPED_TRACE(file);
    StateDict state = read_pth(fixture(file));
    ASSERT_EQ(state.size(), entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      std::string key = e["key"];
      SCOPED_TRACE(key);
      ASSERT_EQ(state.keys()[i], key);
      const at::Tensor& t = state.at(key);
      EXPECT_EQ(t.scalar_type(), dtype_named(e["dtype"]));
      EXPECT_EQ(t.sizes().vec(), e["shape"].get<std::vector<int64_t>>());
      EXPECT_EQ(t.device().type(), at::kCPU);
      auto values = e["values"].get<std::vector<double>>();
      auto flat = t.to(at::kDouble).contiguous().flatten();
      ASSERT_EQ(flat.numel(), static_cast<int64_t>(values.size()));
      for (size_t j = 0; j < values.size(); ++j)
        EXPECT_EQ(flat[static_cast<int64_t>(j)].item<double>(), values[j]) << "element " << j;
    }
  }
}

TEST(ReadPth, HostileOrWrongFilesAreRefusedWithOneLine) {
  auto all = expected()["refuse"];
  ASSERT_GE(all.size(), 10u);
  for (const auto& [file, fragment] : all.items()) {
    SCOPED_TRACE(file);
    try {
      read_pth(fixture(file));
      ADD_FAILURE() << "loaded";
    } catch (const Error& e) {
      std::string what = e.what();
      if (std::getenv("DFSCAN_SHOW_ERRORS")) std::cout << what << "\n";
      EXPECT_NE(what.find(fragment.get<std::string>()), std::string::npos) << what;
      EXPECT_NE(what.find(file), std::string::npos) << "message names the file: " << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

TEST(ReadPth, ViewsShareOneStorage) {
  StateDict s = read_pth(fixture("views.pth"));
  const auto& base = s.at("base");
  const auto& t = s.at("transposed");
  EXPECT_EQ(t.stride(0), 1);
  EXPECT_EQ(t.stride(1), 6);
  EXPECT_TRUE(t.storage().is_alias_of(base.storage()));
  EXPECT_TRUE(s.at("stepped").storage().is_alias_of(base.storage()));
  EXPECT_EQ(s.at("slice").storage_offset(), 5);
  EXPECT_EQ(s.at("scalar").dim(), 0);
}

TEST(ReadPth, StatusesForRefusals) {
  expect_error([] { read_pth(fixture("os_system.pth")); }, "only state-dict classes are allowed",
               Status::unsupported);
  expect_error([] { read_pth(fixture("legacy.pth")); }, "_use_new_zipfile_serialization=True",
               Status::unsupported);
  expect_error([] { read_pth(fixture("does_not_exist.pth")); }, "no such file", Status::not_found);
  expect_error([] { read_pth(fixture("empty.pth")); }, "empty file", Status::empty);
  expect_error([] { read_pth(fixture("truncated.pth")); }, "truncated", Status::decode_error);
}

// Zip records whose sizes claim 4 GiB in 1.4 KB files: the version record (found by
// scripts/fuzz-formats.sh) and a storage record (views.pth with data/0's size patched). LibTorch's
// reader allocates a record's claimed size before it reads it; dfscan must end in a one-line
// decode_error without those pages ever becoming resident.
TEST(ReadPth, ClaimedRecordSizesDoNotBecomeResident) {
  expect_error([] { read_pth(fixture("version-record-claims-4gib.pth")); }, "reading file version",
               Status::decode_error);
  expect_error([] { read_pth(fixture("storage-record-claims-4gib.pth")); }, "reading file data/0",
               Status::decode_error);
  rusage usage{};
  ASSERT_EQ(getrusage(RUSAGE_SELF, &usage), 0);
  EXPECT_LT(usage.ru_maxrss, 1L << 20) << "peak resident size " << usage.ru_maxrss / 1024 << " MiB";
}

TEST(ReadPth, CheckpointLoadsStrictlyIntoTheMatchingModule) {
  // ordered.pth holds Sequential(Conv2d(3,2,3), BatchNorm2d(2), Flatten(), Linear(2,2)).
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 2, 3)), torch::nn::BatchNorm2d(2),
                            torch::nn::Flatten(), torch::nn::Linear(2, 2));
  StateDict s = read_pth(fixture("model_module_prefix.pth"));
  load_into(*net, s, true);
  for (const auto& p : net->named_parameters()) EXPECT_TRUE(p.value().equal(s.at(p.key()))) << p.key();
  // 12 set by the generator, plus the one training forward pass before saving.
  EXPECT_EQ(net->named_buffers()["1.num_batches_tracked"].item<int64_t>(), 13);
}

TEST(StateDict, KeepsOrderAndRefusesDuplicates) {
  StateDict s;
  s.insert("b", torch::zeros({1}));
  s.insert("a", torch::ones({2}));
  EXPECT_EQ(s.keys(), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(s.size(), 2u);
  EXPECT_TRUE(s.contains("a"));
  EXPECT_FALSE(s.contains("c"));
  EXPECT_EQ(s.at("a").size(0), 2);
  EXPECT_EQ(s.find("c"), nullptr);
  expect_error([&] { s.insert("a", torch::zeros({1})); }, "'a'", Status::error);
  expect_error([&] { (void)s.at("zzz"); }, "'zzz'", Status::error);
  size_t n = 0;
  for (const auto& [k, v] : s) n += static_cast<size_t>(v.numel()) + k.size();
  EXPECT_EQ(n, 5u);
}

TEST(LoadInto, CopiesEverythingWithDtypeConversion) {
  Net net;
  StateDict s;
  for (const auto& p : net.named_parameters())
    s.insert(p.key(), torch::arange(p.value().numel(), torch::kFloat64).reshape(p.value().sizes()));
  for (const auto& b : net.named_buffers())
    s.insert(b.key(), torch::full(b.value().sizes(), 7, torch::kInt32));
  auto report = load_into(net, s, true);
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(report.unexpected.empty());
  EXPECT_EQ(net.fc->weight.scalar_type(), torch::kFloat);
  EXPECT_TRUE(net.fc->weight.equal(torch::arange(8, torch::kFloat).reshape({2, 4})));
  EXPECT_TRUE(net.fc->weight.requires_grad());
  EXPECT_EQ(net.bn->num_batches_tracked.item<int64_t>(), 7);
  EXPECT_FLOAT_EQ(net.bn->running_var[0].item<float>(), 7.f);
}

TEST(LoadInto, MissingKeyIsNamedAndNothingIsCopied) {
  Net net;
  auto before = net.fc->weight.clone();
  StateDict full = full_state(net);
  StateDict partial;
  for (const auto& [k, v] : full)
    if (k != "bn.running_mean") partial.insert(k, v);
  expect_error([&] { load_into(net, partial, false); }, "bn.running_mean", Status::error);
  EXPECT_TRUE(net.fc->weight.equal(before));
}

TEST(LoadInto, UnexpectedKeyStrictAndLenient) {
  Net net;
  StateDict s = full_state(net);
  s.insert("extra.weight", torch::zeros({1}));
  expect_error([&] { load_into(net, s, true); }, "extra.weight", Status::error);
  auto report = load_into(net, s, false);
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"extra.weight"}));
  EXPECT_TRUE(net.fc->weight.equal(s.at("fc.weight")));
}

TEST(LoadInto, ShapeMismatchNamesKeyAndShapes) {
  Net net;
  StateDict full = full_state(net);
  StateDict s;
  for (const auto& [k, v] : full) s.insert(k, k == "fc.weight" ? torch::zeros({4, 2}) : v);
  expect_error([&] { load_into(net, s, true); }, "'fc.weight': checkpoint [4, 2], model [2, 4]",
               Status::error);
}
