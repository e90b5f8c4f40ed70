// `dfscan version` / `dfscan --version`: what this build runs on.
#include <iostream>

#include "command.hpp"
#include "dfscan/config.hpp"
#include "dfscan/runtime.hpp"
#if DFSCAN_WITH_MEDIA
#include "dfscan/media.hpp"
#endif
#include "exit_codes.hpp"

namespace dfscan::cli {
namespace {

int print_version() {
  configure_threads(0);
  const auto info = runtime_info();
  std::cout << "dfscan " << DFSCAN_VERSION << "\n";
  std::cout << "LibTorch " << info.torch_version << "\n";
#if DFSCAN_WITH_MEDIA
  std::cout << media::library_versions() << "\n";
#else
  std::cout << "media: disabled (built with DFSCAN_WITH_MEDIA=OFF)\n";
#endif
  std::cout << "CUDA: " << (info.cuda_available ? "available" : "not available");
  for (const auto& d : info.cuda_devices) std::cout << " " << d;
  std::cout << "\nthreads: " << info.threads << "\n";
  return kExitOk;
}

std::function<int()> add_version(CLI::App& root) {
  auto* version_flag = root.add_flag("-V,--version", "Print versions of dfscan and its libraries, then exit");
  auto* sub = root.add_subcommand("version", "Print versions of dfscan and its libraries");
  // The root flag is handled here too: a parsed flag short-circuits in main via a callback.
  version_flag->each([](const std::string&) { std::exit(print_version()); });
  (void)sub;
  return print_version;
}

}  // namespace
DFSCAN_COMMAND("version", add_version);
}  // namespace dfscan::cli
