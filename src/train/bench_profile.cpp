#include "train/bench_profile.hpp"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <map>
#include <set>

#include "dfscan/status.hpp"

#if DFSCAN_KERNEL_PROFILER
#include <torch/csrc/autograd/profiler_kineto.h>
#endif

namespace dfscan::bench {

#if DFSCAN_KERNEL_PROFILER
namespace {
namespace prof = torch::autograd::profiler;

double duration_ms(const prof::KinetoEvent& e) {
#if TORCH_VERSION_MAJOR >= 2
  return static_cast<double>(e.durationNs()) / 1e6;  // 2.x counts nanoseconds
#else
  return static_cast<double>(e.durationUs()) / 1e3;
#endif
}
}  // namespace

std::vector<KernelTime> profile_kernels(const std::function<void()>& step, int steps, bool cuda, int top) {
  if (steps < 1 || top < 1) return {};
  const prof::ProfilerConfig config(prof::ProfilerState::KINETO);
  std::set<prof::ActivityType> activities{prof::ActivityType::CPU};
  if (cuda) activities.insert(prof::ActivityType::CUDA);
  prof::prepareProfiler(config, activities);
  prof::enableProfiler(config, activities);
  try {
    for (int i = 0; i < steps; ++i) step();
    if (cuda) torch::cuda::synchronize();
  } catch (...) {
    (void)prof::disableProfiler();
    throw;
  }
  const auto result = prof::disableProfiler();
  const auto wanted = cuda ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  std::map<std::string, KernelTime> by_name;
  for (const auto& e : result->events()) {
    if (e.deviceType() != wanted) continue;
    auto name = e.name();
    if (!cuda && name.rfind("aten::", 0) != 0) continue;
    auto& k = by_name[std::move(name)];
    k.ms_per_step += duration_ms(e);
    k.calls_per_step += 1;
  }
  if (cuda && by_name.empty())
    throw Error(Status::unsupported,
                "the profiler recorded no CUDA kernels (a LibTorch without Kineto/CUPTI, or a CUDA graph "
                "that hides them)");
  std::vector<KernelTime> kernels;
  kernels.reserve(by_name.size());
  for (auto& [name, k] : by_name) {
    k.name = name;
    k.ms_per_step /= steps;
    k.calls_per_step /= steps;
    kernels.push_back(std::move(k));
  }
  std::sort(kernels.begin(), kernels.end(),
            [](const KernelTime& a, const KernelTime& b) { return a.ms_per_step > b.ms_per_step; });
  if (kernels.size() > static_cast<size_t>(top)) kernels.resize(static_cast<size_t>(top));
  return kernels;
}
#else
std::vector<KernelTime> profile_kernels(const std::function<void()>&, int, bool, int) {
  throw Error(Status::unsupported,
              "this build has no kernel profiler (configured with DFSCAN_KERNEL_PROFILER=OFF)");
}
#endif

}  // namespace dfscan::bench
