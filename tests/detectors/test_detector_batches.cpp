// Detector::logits over a list of inputs: any batch size gives the one-batch result, in input
// order, and empty input or a batch size below 1 is an error. to_device leaves CPU tensors alone;
// stack_for is a plain stack there (its CUDA side: test_device_copy_gpu).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "detectors/device_copy.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/status.hpp"

namespace fs = std::filesystem;

TEST(DetectorBatches, AnyBatchSizeGivesTheOneBatchLogitsInOrder) {
  const fs::path model = fs::path(DFSCAN_SOURCE_DIR) / "models/genconvit-ed-atto.safetensors";
  ASSERT_TRUE(fs::exists(model)) << model;
  const auto d = dfscan::Detector::load(model.string(), c10::Device(c10::kCPU));
  torch::manual_seed(3);
  std::vector<at::Tensor> inputs;
  for (int i = 0; i < 5; ++i) inputs.push_back(torch::randn({3, 224, 224}));
  const auto whole = d.logits(torch::stack(inputs));
  ASSERT_EQ(whole.sizes(), (std::vector<int64_t>{5, 2}));
  for (const int batch : {1, 2, 5, 8}) {
    const auto batched = d.logits(inputs, batch);
    EXPECT_EQ(batched.device(), c10::Device(c10::kCPU));
    EXPECT_EQ(batched.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::allclose(batched, whole, /*rtol=*/0, /*atol=*/1e-5))
        << "batch " << batch << ": " << (batched - whole).abs().max().item<double>();
  }
  // Order is kept: reversed inputs give reversed rows.
  const std::vector<at::Tensor> reversed(inputs.rbegin(), inputs.rend());
  EXPECT_TRUE(torch::allclose(d.logits(reversed, 2), whole.flip({0}), 0, 1e-5));
  EXPECT_THROW(d.logits(std::vector<at::Tensor>{}, 2), dfscan::Error);
  EXPECT_THROW(d.logits(inputs, 0), dfscan::Error);
}

TEST(DetectorBatches, ToDeviceLeavesCpuTensorsAlone) {
  const auto t = torch::arange(6, torch::kUInt8);
  EXPECT_TRUE(dfscan::detectors::to_device(t, c10::Device(c10::kCPU)).is_same(t));
  EXPECT_TRUE(dfscan::detectors::to_device(t, c10::Device(c10::kCPU), /*pinned=*/false).is_same(t));
}

TEST(DetectorBatches, StackForTheCpuIsAPlainStack) {
  torch::manual_seed(5);
  const std::vector<at::Tensor> items{torch::randn({3, 4, 5}), torch::randn({3, 4, 5}),
                                      torch::randn({3, 4, 5})};
  const auto batch = dfscan::detectors::stack_for(items, c10::Device(c10::kCPU));
  EXPECT_TRUE(torch::equal(batch, torch::stack(items)));
  EXPECT_FALSE(batch.is_pinned());
  EXPECT_THROW(dfscan::detectors::stack_for({torch::zeros({2}), torch::zeros({3})}, c10::Device(c10::kCPU)),
               c10::Error)
      << "items of different shapes";
}
