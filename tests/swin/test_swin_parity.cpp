// swin_micro against timm 0.6.5's own output (fixture made by the reference, see parity/README.md).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

#include "../common/cuda_parity.hpp"
#include "dfscan/checkpoint.hpp"
#include "dfscan/nn/swin.hpp"

namespace {

const std::filesystem::path kMicroDir = std::filesystem::path(DFSCAN_SHARED_DIR) / "parity" / "swin_micro";

dfscan::nn::SwinConfig micro_config() {
  dfscan::nn::SwinConfig config;
  config.embed_dim = 32;
  config.depths = {2, 2};
  config.num_heads = {1, 2};
  config.num_classes = 10;
  return config;
}

class SwinMicroParity : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kMicroDir / "weights.pth")) GTEST_SKIP() << "no fixture in " << kMicroDir;
    weights_ = dfscan::io::read_pth(kMicroDir / "weights.pth");
    io_ = dfscan::io::read_pth(kMicroDir / "io.pth");
  }
  dfscan::io::StateDict weights_;
  dfscan::io::StateDict io_;
};

// The buffers we compute must be the ones timm saved: after a strict load they are overwritten,
// so this is the only place a wrong index or mask would show.
TEST_F(SwinMicroParity, ComputedBuffersEqualCheckpoint) {
  dfscan::nn::SwinTransformer model(micro_config());
  int checked = 0;
  for (const auto& item : model->named_buffers()) {
    const auto& saved = weights_.at(item.key());
    EXPECT_EQ(saved.scalar_type(), item.value().scalar_type()) << item.key();
    EXPECT_TRUE(torch::equal(saved, item.value())) << item.key();
    ++checked;
  }
  EXPECT_EQ(checked, 6);  // 4 relative_position_index + 2 attn_mask
}

TEST_F(SwinMicroParity, OutputMatchesReference) {
  torch::NoGradGuard no_grad;
  dfscan::nn::SwinTransformer model(micro_config());
  const auto report = dfscan::io::load_into(*model, weights_, /*strict=*/true);
  EXPECT_TRUE(report.unexpected.empty());
  model->eval();
  const auto& input = io_.at("input");
  const auto& expected = io_.at("output");
  ASSERT_EQ(input.sizes(), (std::vector<int64_t>{2, 3, 224, 224}));
  const auto output = model->forward(input);
  ASSERT_EQ(output.sizes(), expected.sizes());
  const double max_diff = (output - expected).abs().max().item<double>();
  RecordProperty("max_abs_diff", std::to_string(max_diff));
  std::printf("swin_micro max |dfscan - timm| = %.3g\n", max_diff);
  EXPECT_LE(max_diff, 1e-4);
  // The reference output is far from a trivial one, so the bound above means something.
  EXPECT_GT(expected.abs().max().item<double>(), 1e-2);
}

// The same on CUDA with TF32 off, plus the bf16/fp16 relative errors (reported).
TEST_F(SwinMicroParity, OutputMatchesReferenceOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  dfscan::test::NoTf32 no_tf32;
  torch::NoGradGuard no_grad;
  const torch::Device cuda(torch::kCUDA);
  dfscan::nn::SwinTransformer model(micro_config());
  dfscan::io::load_into(*model, weights_, /*strict=*/true);
  model->eval();
  model->to(cuda);
  const auto output = model->forward(io_.at("input").to(cuda)).to(torch::kCPU);
  const double max_diff = (output - io_.at("output")).abs().max().item<double>();
  std::printf("[parity] swin_micro on cuda: max abs diff %.3g\n", max_diff);
  EXPECT_LE(max_diff, 1e-4);
  dfscan::test::report_reduced_precision([&](const at::Tensor& x) { return model->forward(x); },
                                         kMicroDir / "io.pth", cuda);
}

// Module::to(dtype) also casts the int64 index buffer; the forward must still be right.
TEST_F(SwinMicroParity, DoublePrecisionAgrees) {
  torch::NoGradGuard no_grad;
  dfscan::nn::SwinTransformer model(micro_config());
  dfscan::io::load_into(*model, weights_, /*strict=*/true);
  model->eval();
  model->to(torch::kDouble);
  const auto output = model->forward(io_.at("input").to(torch::kDouble));
  EXPECT_LE((output - io_.at("output").to(torch::kDouble)).abs().max().item<double>(), 1e-4);
}

// The fixture is sensitive to the shift mask, so the parity bound above does test it.
TEST_F(SwinMicroParity, ZeroedShiftMaskIsDetected) {
  torch::NoGradGuard no_grad;
  dfscan::nn::SwinTransformer model(micro_config());
  dfscan::io::load_into(*model, weights_, /*strict=*/true);
  model->eval();
  for (auto& item : model->named_buffers()) {
    if (item.key().find("attn_mask") != std::string::npos) item.value().zero_();
  }
  const double max_diff = (model->forward(io_.at("input")) - io_.at("output")).abs().max().item<double>();
  std::printf("swin_micro without shift mask: max diff %.3g\n", max_diff);
  EXPECT_GT(max_diff, 1e-4);
}

}  // namespace
