#include "train/amp.hpp"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "dfscan/status.hpp"

namespace dfscan::train {

// LibTorch 2.4 replaced the CUDA-specific autocast calls with device-type-generic ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define DFSCAN_AUTOCAST_GENERIC 1
#else
#define DFSCAN_AUTOCAST_GENERIC 0
#endif

namespace {
bool autocast_enabled() {
#if DFSCAN_AUTOCAST_GENERIC
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}
at::ScalarType autocast_dtype() {
#if DFSCAN_AUTOCAST_GENERIC
  return at::autocast::get_autocast_dtype(at::kCUDA);
#else
  return at::autocast::get_autocast_gpu_dtype();
#endif
}
void set_autocast(bool on, at::ScalarType dtype) {
#if DFSCAN_AUTOCAST_GENERIC
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
  at::autocast::set_autocast_enabled(at::kCUDA, on);
#else
  at::autocast::set_autocast_gpu_dtype(dtype);
  at::autocast::set_enabled(on);
#endif
}
}  // namespace

void check_precision(const std::string& precision, const c10::Device& device) {
  if (precision == "fp32") return;
  if (precision != "bf16" && precision != "fp16")
    throw Error(Status::error, "unknown precision '" + precision + "' (fp32, bf16, fp16)");
  if (!device.is_cuda())
    throw Error(Status::error, precision + " training needs a CUDA device (autocast is CUDA-only here)");
  if (precision == "bf16") {
    // A tiny bf16 matmul fails on GPUs without bf16 support; better here than mid-epoch.
    try {
      auto a = torch::ones({2, 2}, torch::TensorOptions().device(device).dtype(torch::kBFloat16));
      (void)a.matmul(a).sum().item<float>();
    } catch (const c10::Error& e) {
      throw Error(Status::error, "this GPU cannot run bf16: " + one_line(e.what()));
    }
  }
}

AutocastGuard::AutocastGuard(const std::string& precision) {
  if (precision == "fp32") return;
  previous_ = autocast_enabled();
  previous_dtype_ = autocast_dtype();
  set_autocast(true, precision == "bf16" ? at::kBFloat16 : at::kHalf);
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(previous_, previous_dtype_);
}

bool LossScaler::unscale_and_check(const std::vector<at::Tensor>& params) {
  torch::NoGradGuard no_grad;
  bool finite = true;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    auto g = p.mutable_grad();
    g.div_(scale);
    if (finite && !torch::isfinite(g).all().item<bool>()) finite = false;
  }
  if (!finite) {
    scale /= 2.0;
    clean_steps = 0;
    return false;
  }
  if (++clean_steps >= growth_interval) {
    scale *= 2.0;
    clean_steps = 0;
  }
  return true;
}

}  // namespace dfscan::train
