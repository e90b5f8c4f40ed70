// Calls the installed library: a metric (torch-free) and, in a media build, the scan layer.
#include <dfscan/config.hpp>
#include <dfscan/metrics.hpp>
#include <iostream>
#if DFSCAN_WITH_MEDIA
#include <dfscan/scan.hpp>
#endif

int main() {
  const auto auc = dfscan::eval::roc_auc({0, 0, 1, 1}, {0.1, 0.4, 0.35, 0.8});
  std::cout << "auc " << auc.value.value_or(-1.0) << "\n";
#if DFSCAN_WITH_MEDIA
  for (const auto& name : dfscan::default_model_names()) std::cout << "default model " << name << "\n";
#endif
  return 0;
}
