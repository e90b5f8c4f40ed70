// read_pth on committed fixtures (scripts/make-io-fixtures.py) and load_into on small modules.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dfscan/checkpoint.hpp"
#include "dfscan/status.hpp"

namespace fs = std::filesystem;
using dfscan::Error;
using dfscan::Status;
using dfscan::io::load_into;
using dfscan::io::read_pth;
using dfscan::io::StateDict;

namespace {

[[maybe_unused]] fs::path fixture(const std::string& name) {
  return fs::path(DFSCAN_SOURCE_DIR) / "tests/data/io" / name;
}

// Runs `f`, expecting a dfscan::Error whose one-line message contains `needle`.
template <typename F>
void expect_error(F&& f, const std::string& needle, Status status) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing: " << needle;
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_EQ(e.status(), status) << what;
  }
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

}  // namespace

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
