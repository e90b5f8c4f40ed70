// CUDA training: fp32, bf16 autocast and fp16 autocast with our loss scaling (label gpu; skipped
// without CUDA).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dfscan/status.hpp"
#include "train_test_util.hpp"

using namespace dfscan;
namespace fs = std::filesystem;

namespace {

struct Outcome {
  train::TrainResult result;
  at::ScalarType forward_dtype = at::kFloat;
};

Outcome train_on_cuda(const std::string& precision) {
  test::ScopedDir dir("gpu-" + precision);
  const auto ds = data::open_dataset(test::write_tiny_csv(dir.path).string());
  auto model = test::tiny_model(2);
  Outcome out;
  auto inner = model.forward;
  model.forward = [inner, &out](const at::Tensor& x) {
    auto y = inner(x);
    out.forward_dtype = y.scalar_type();
    return y;
  };
  train::TrainOptions o;
  o.epochs = 4;
  o.batch_size = 4;
  o.optimizer = "adam";
  o.lr = 3e-3;
  o.device = "cuda";
  o.precision = precision;
  o.checkpoint_dir = dir.path / "ckpt";
  o.progress = false;
  out.result = train::train(model, ds, o);
  return out;
}

}  // namespace

class TrainGpu : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainGpu, TrainsWithFiniteLossAndSelectsOnValidation) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto precision = GetParam();
  const auto out = train_on_cuda(precision);
  EXPECT_EQ(out.result.epochs_run, 4);
  EXPECT_EQ(out.result.steps, 16);
  ASSERT_GE(out.result.best_epoch, 0);
  for (const auto& epoch : out.result.history) {
    ASSERT_TRUE(epoch["train_loss"].is_number()) << epoch.dump();
    EXPECT_TRUE(std::isfinite(epoch["train_loss"].get<double>())) << epoch.dump();
    EXPECT_TRUE(epoch["valid"]["auc"].is_number()) << epoch.dump();
  }
  const auto expected = precision == "bf16" ? at::kBFloat16 : precision == "fp16" ? at::kHalf : at::kFloat;
  EXPECT_EQ(out.forward_dtype, expected) << "autocast did not run the network in " << precision;
  if (precision == "fp16") {
    EXPECT_GT(out.result.history.back()["loss_scale"].get<double>(), 0.0);
  }
  std::printf("%s: train loss %s -> %s, selected epoch %d, valid %s\n", precision.c_str(),
              out.result.history.front()["train_loss"].dump().c_str(),
              out.result.history.back()["train_loss"].dump().c_str(), out.result.best_epoch + 1,
              out.result.validation.dump().c_str());
}

INSTANTIATE_TEST_SUITE_P(Precisions, TrainGpu, ::testing::Values("fp32", "bf16", "fp16"));

TEST(TrainGpuResume, CudaRunResumesFromCheckpoint) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  test::ScopedDir dir("gpu-resume");
  const auto ds = data::open_dataset(test::write_tiny_csv(dir.path).string());
  train::TrainOptions o;
  o.epochs = 2;
  o.batch_size = 4;
  o.device = "cuda";
  o.precision = "bf16";
  o.checkpoint_dir = dir.path / "ckpt";
  o.progress = false;
  auto first = test::tiny_model(4);
  train::train(first, ds, o);
  o.epochs = 3;
  o.resume = true;
  auto second = test::tiny_model(5);
  const auto r = train::train(second, ds, o);
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(r.steps, 12);
  EXPECT_EQ(second.net->parameters().front().device().type(), c10::kCUDA);
}
