// Host batches on their way to CUDA (label gpu; skipped without a CUDA device): stack_for writes
// them into page-locked memory, to_device copies them asynchronously on a side stream, and the
// page-locked block outlives that copy even when the batch is dropped and its memory asked for
// again at once.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "detectors/device_copy.hpp"
#include "dfscan/config.hpp"

namespace {

using dfscan::detectors::stack_for;
using dfscan::detectors::to_device;

class DeviceCopyGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  }
  const c10::Device cuda{c10::kCUDA, 0};
};

std::vector<at::Tensor> crops(int count, int64_t side, int seed) {
  torch::manual_seed(seed);
  std::vector<at::Tensor> out;
  for (int i = 0; i < count; ++i) out.push_back(torch::randint(0, 256, {side, side, 3}, torch::kUInt8));
  return out;
}

TEST_F(DeviceCopyGpu, StackedBatchArrivesUnchanged) {
  const auto items = crops(5, 64, 1);
  const auto batch = stack_for(items, cuda);
  EXPECT_EQ(batch.is_pinned(), DFSCAN_TORCH_CUDA == 1) << "page-locked where the CUDA code is built";
  const auto on_device = to_device(batch, cuda);
  EXPECT_TRUE(on_device.is_cuda());
  EXPECT_TRUE(torch::equal(on_device.cpu(), torch::stack(items)));
  // Pageable batches take the ordinary copy, with the same result.
  EXPECT_TRUE(
      torch::equal(to_device(torch::stack(items), cuda, /*pinned=*/false).cpu(), torch::stack(items)));
}

TEST_F(DeviceCopyGpu, PinnedBlockOutlivesItsAsynchronousCopy) {
  // 64 batches of 224x224 crops (about 9.6 MB each, 0.6 GB in all) queued back to back: each host
  // batch is dropped as soon as its copy is queued, and the next one asks the caching allocator for
  // a block of the same size at once. Reusing a block before its copy has run would show up as
  // another batch's bytes on the device.
  std::vector<at::Tensor> on_device, expected;
  for (int b = 0; b < 64; ++b) {
    const auto items = crops(64, 224, 100 + b);
    expected.push_back(torch::stack(items).sum(at::kLong));
    on_device.push_back(to_device(stack_for(items, cuda), cuda));
  }
  for (int b = 0; b < 64; ++b)
    EXPECT_EQ(on_device[b].sum(at::kLong).item<int64_t>(), expected[b].item<int64_t>()) << "batch " << b;
}

}  // namespace
