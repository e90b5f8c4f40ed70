#pragma once
// Process-wide LibTorch settings: device choice and thread count.
#include <c10/core/Device.h>

#include <string>
#include <vector>

namespace dfscan {

// Parses "auto", "cpu", "cuda" or "cuda:N". "auto" is CUDA device 0 when available, else CPU.
// Throws dfscan::Error for unknown names or a CUDA device that is not present.
c10::Device parse_device(const std::string& spec);

// Sets LibTorch's intra-op threads; n <= 0 means every CPU this process may use (usable_cpus()).
void configure_threads(int n);
int intra_op_threads();

struct RuntimeInfo {
  std::string torch_version;
  bool cuda_available = false;
  std::vector<std::string> cuda_devices;
  int threads = 0;
};
RuntimeInfo runtime_info();

}  // namespace dfscan
