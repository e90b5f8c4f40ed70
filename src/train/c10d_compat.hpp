#pragma once
// The one place that knows how the c10d C++ API differs between LibTorch generations.
//
// - 1.13 (Debian, what CI builds): ProcessGroupGloo/NCCL derive from c10d::ProcessGroup.
// - 2.x (PyTorch's bundled LibTorch): they derive from c10d::Backend (ProcessGroup became a
//   dispatcher over backends); ProcessGroupGloo's device factories take a lazyInit flag with a
//   default; ProcessGroupNCCL gained shutdown(), which should run before it is destroyed;
//   TCPStoreOptions::numWorkers became std::optional. Only 1.13 is compiled and tested here.
//
// Include only from translation units built with DFSCAN_WITH_DISTRIBUTED.
#include <torch/version.h>

#if DFSCAN_WITH_GLOO && !defined(USE_C10D_GLOO)
#define USE_C10D_GLOO 1  // the header's own guard; LibTorch's CMake config does not define it
#endif
#if DFSCAN_WITH_NCCL && !defined(USE_C10D_NCCL)
#define USE_C10D_NCCL 1
#endif

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#if DFSCAN_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if DFSCAN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdint>
#include <string>

#include "dfscan/text.hpp"

#if TORCH_VERSION_MAJOR < 1 || (TORCH_VERSION_MAJOR == 1 && TORCH_VERSION_MINOR < 13)
#error "dfscan's c10d training needs LibTorch 1.13 or newer (c10d::Work as a top-level class)"
#endif

namespace dfscan::train::c10d_compat {

// The common base of Gloo and NCCL: what collectives are called on.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = ::c10d::Backend;
#else
using Collectives = ::c10d::ProcessGroup;
#endif

// A TCPStore at host:port; the server when `is_server` (rank 0, unless torchrun's agent hosts it).
inline c10::intrusive_ptr<::c10d::Store> tcp_store(const std::string& host, int port, bool is_server,
                                                   int world_size, std::chrono::milliseconds timeout) {
  ::c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(port);
  options.isServer = is_server;
  options.numWorkers = static_cast<std::size_t>(world_size);
  // Every rank counts itself in and waits for the others (the server only returns once all joined).
  options.waitWorkers = true;
  options.timeout = timeout;
  // Several process groups of one job may meet at the same address (as Python's init does).
  options.multiTenant = true;
  return c10::make_intrusive<::c10d::TCPStore>(host, options);
}

inline c10::intrusive_ptr<::c10d::Store> prefix_store(const std::string& prefix,
                                                      c10::intrusive_ptr<::c10d::Store> store) {
  return c10::make_intrusive<::c10d::PrefixStore>(prefix, std::move(store));
}

#if DFSCAN_WITH_GLOO
// Gloo over TCP: the interfaces named in GLOO_SOCKET_IFNAME (comma-separated), else the address
// this host's name resolves to (loopback when it does not resolve).
inline c10::intrusive_ptr<::c10d::ProcessGroupGloo::Options> gloo_options(const std::string& interfaces,
                                                                          std::chrono::milliseconds timeout) {
  auto options = ::c10d::ProcessGroupGloo::Options::create(timeout);
  for (const auto& name : split_on(interfaces, ','))
    if (!name.empty()) options->devices.push_back(::c10d::ProcessGroupGloo::createDeviceForInterface(name));
  if (options->devices.empty()) options->devices.push_back(::c10d::ProcessGroupGloo::createDefaultDevice());
  return options;
}
#endif

#if DFSCAN_WITH_NCCL
inline c10::intrusive_ptr<::c10d::ProcessGroupNCCL::Options> nccl_options(std::chrono::milliseconds timeout) {
  auto options = ::c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return options;
}

// 2.2 and later warn (and may leak communicators) when a ProcessGroupNCCL is destroyed unshut.
inline void shutdown(::c10d::ProcessGroupNCCL& group) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
  group.shutdown();
#else
  (void)group;
#endif
}
#endif

}  // namespace dfscan::train::c10d_compat
