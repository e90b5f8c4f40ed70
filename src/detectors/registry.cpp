#include <algorithm>
#include <map>

#include "detectors/architecture.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/status.hpp"

namespace dfscan::detectors {
static std::map<std::string, Architecture>& registry() {
  static std::map<std::string, Architecture> archs;
  return archs;
}

void register_architecture(Architecture arch) {
  auto name = arch.name;
  registry().emplace(std::move(name), std::move(arch));
}

const Architecture& find_architecture(const std::string& name) {
  auto it = registry().find(name);
  if (it != registry().end()) return it->second;
  std::string known;
  for (const auto& [n, _] : registry()) known += (known.empty() ? "" : ", ") + n;
  throw Error(Status::error, "unknown architecture '" + name + "' (known: " + known + ")");
}

std::vector<std::string> architecture_names() {
  std::vector<std::string> names;
  for (const auto& [n, _] : registry()) names.push_back(n);
  return names;
}

}  // namespace dfscan::detectors

namespace dfscan {
std::vector<std::string> registered_architectures() {
  return detectors::architecture_names();
}
}  // namespace dfscan
