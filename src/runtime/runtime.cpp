#include "dfscan/runtime.hpp"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>

#include "dfscan/cpus.hpp"
#include "dfscan/status.hpp"

namespace dfscan {
namespace {
[[noreturn]] void bad_device(const std::string& spec) {
  throw Error(Status::error, "invalid device '" + spec + "' (expected auto, cpu, cuda or cuda:N)");
}
}  // namespace

c10::Device parse_device(const std::string& spec) {
  if (spec.empty() || spec == "auto")
    return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (spec == "cpu") return c10::Device(c10::kCPU);
  if (spec.rfind("cuda", 0) != 0) bad_device(spec);
  int index = 0;
  if (spec.size() > 4) {
    if (spec[4] != ':' || spec.size() == 5) bad_device(spec);
    const std::string digits = spec.substr(5);
    if (digits.size() > 3 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) bad_device(spec);
    index = std::stoi(digits);
  }
  if (!torch::cuda::is_available())
    throw Error(Status::error, "device '" + spec + "' requested but CUDA is not available");
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count)
    throw Error(Status::error, "device '" + spec + "' requested but only " + std::to_string(count) +
                                   " CUDA device(s) exist");
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

void configure_threads(int n) {
  if (n <= 0) n = usable_cpus();
  at::set_num_threads(n);
}

int intra_op_threads() {
  return at::get_num_threads();
}

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.torch_version = TORCH_VERSION;
  info.cuda_available = torch::cuda::is_available();
  if (info.cuda_available) {
    for (size_t i = 0; i < torch::cuda::device_count(); ++i)
      info.cuda_devices.push_back("cuda:" + std::to_string(i));
  }
  info.threads = intra_op_threads();
  return info;
}

}  // namespace dfscan
