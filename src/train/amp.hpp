#pragma once
// Mixed precision on CUDA: autocast (bf16 or fp16) and our own dynamic loss scaling for fp16, since
// the C++ API has no GradScaler. The autocast API differs between LibTorch 1.13 and 2.x; only
// amp.cpp knows the difference.
#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include <string>
#include <vector>

namespace dfscan::train {

// Validates a precision name against a device: fp32 anywhere; bf16/fp16 need CUDA (and bf16 a GPU
// that supports it). Throws dfscan::Error otherwise.
void check_precision(const std::string& precision, const c10::Device& device);

// Enables CUDA autocast to bf16/fp16 for its lifetime; a no-op for fp32.
class AutocastGuard {
 public:
  explicit AutocastGuard(const std::string& precision);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool previous_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;  // restored on exit, so guards nest
};

// Dynamic loss scaling as torch.cuda.amp.GradScaler does it: scale the loss, skip steps whose
// gradients overflow (halving the scale), double the scale after `growth_interval` clean steps.
struct LossScaler {
  double scale = 65536.0;
  int64_t growth_interval = 2000;
  int64_t clean_steps = 0;

  // Divides the gradients by the scale; returns false (and backs off) when any is not finite.
  bool unscale_and_check(const std::vector<at::Tensor>& params);
};

}  // namespace dfscan::train
