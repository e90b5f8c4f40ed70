#include "detectors/device_copy.hpp"

#include <torch/torch.h>

#include "dfscan/config.hpp"

#if DFSCAN_TORCH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace dfscan::detectors {

at::Tensor to_device(const at::Tensor& host, const c10::Device& device, bool pinned) {
  if (host.device() == device) return host;
  if (!device.is_cuda() || !host.device().is_cpu() || !pinned) return host.to(device);
#if DFSCAN_TORCH_CUDA
  // PyTorch's caching host allocator keeps the pinned block alive until the copy that reads it
  // has finished, so `staged` may go out of scope at once.
  const auto staged = host.is_pinned() ? host : host.pin_memory();
  const auto compute = c10::cuda::getCurrentCUDAStream(device.index());
  const auto copy = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
  at::Tensor out;
  {
    c10::cuda::CUDAStreamGuard on_copy(copy);
    out = staged.to(device, /*non_blocking=*/true);
  }
  at::cuda::CUDAEvent copied;
  copied.record(copy);
  copied.block(compute);
  // `out` was allocated on the copy stream: its memory must not be reused before the compute
  // stream is done reading it.
  out.record_stream(compute);
  return out;
#else
  return host.to(device);  // a LibTorch without CUDA never gets here with a CUDA device
#endif
}

at::Tensor stack_for(const std::vector<at::Tensor>& items, const c10::Device& device) {
#if DFSCAN_TORCH_CUDA
  if (device.is_cuda() && !items.empty() && items.front().device().is_cpu()) {
    std::vector<int64_t> sizes{static_cast<int64_t>(items.size())};
    const auto item = items.front().sizes();
    sizes.insert(sizes.end(), item.begin(), item.end());
    auto batch = at::empty(sizes, items.front().options().pinned_memory(true));
    at::stack_out(batch, items, 0);
    return batch;
  }
#else
  (void)device;
#endif
  return torch::stack(items);
}

bool to_channels_last(torch::nn::Module& net) {
  torch::NoGradGuard no_grad;
  bool any = false;
  for (auto& p : net.parameters())
    if (p.dim() == 4) {
      p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
      any = true;
    }
  return any;
}

}  // namespace dfscan::detectors
