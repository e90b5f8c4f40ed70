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

// Per-step entries aggregated by name, longest first, at most `top`.
std::vector<KernelTime> longest(std::map<std::string, KernelTime>& by_name, int steps, int top) {
  std::vector<KernelTime> out;
  out.reserve(by_name.size());
  for (auto& [name, k] : by_name) {
    k.name = name;
    k.ms_per_step /= steps;
    k.calls_per_step /= steps;
    out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end(),
            [](const KernelTime& a, const KernelTime& b) { return a.ms_per_step > b.ms_per_step; });
  if (out.size() > static_cast<size_t>(top)) out.resize(static_cast<size_t>(top));
  return out;
}

}  // namespace

KernelProfile profile_kernels(const std::function<void()>& step, int steps, bool cuda, int top) {
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
  std::map<std::string, KernelTime> kernels, host;  // kernels: on the CPU, its operators
  KernelProfile profile;
  const auto add = [](KernelTime& k, double ms) {
    k.ms_per_step += ms;
    k.calls_per_step += 1;
  };
  for (const auto& e : result->events()) {
    const double ms = duration_ms(e);
    if (e.deviceType() == c10::DeviceType::CUDA) {
      add(kernels[e.name()], ms);
      add(profile.total, ms);
    } else if (cuda) {
      add(host[e.name()], ms);
    } else if (e.name().rfind("aten::", 0) == 0) {
      add(kernels[e.name()], ms);
    }
  }
  if (cuda && kernels.empty())
    throw Error(Status::unsupported,
                "the profiler recorded no CUDA kernels (a LibTorch without Kineto/CUPTI, or a CUDA graph "
                "that hides them)");
  profile.top = longest(kernels, steps, top);
  profile.host = longest(host, steps, top);
  if (cuda) {
    profile.total.name = "all kernels";
    profile.total.ms_per_step /= steps;
    profile.total.calls_per_step /= steps;
  }
  return profile;
}
#else
KernelProfile profile_kernels(const std::function<void()>&, int, bool, int) {
  throw Error(Status::unsupported,
              "this build has no kernel profiler (configured with DFSCAN_KERNEL_PROFILER=OFF)");
}
#endif

}  // namespace dfscan::bench
