// The `dfscan` executable: chooses process-wide settings that must be in the environment before
// LibTorch's libraries initialise, then loads the commands (libdfscan-cli) and runs them.
//
// libgomp (LibTorch's intra-op thread pool) reads OMP_WAIT_POLICY once, in its library
// constructor, and by default spins for ~300000 pauses at every barrier. With decoding, face
// detection and model loading sharing two cores, the spinning thread takes the core its partner
// needs: a one-clip scan spent a quarter of its CPU time in that spin loop and ran 20 % slower.
// Nothing in a process that links LibTorch can set the variable in time (glibc's start-up resets
// `environ` after the executable's preinit functions, and libgomp initialises before any of our
// constructors), so this executable links no LibTorch and loads the library that does afterwards.
// A value the user set, PASSIVE or ACTIVE, is kept.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
  // Found through this executable's run path: the build folder, or ../lib once installed. Lazy
  // binding, as for a directly linked library: resolving all of LibTorch's symbols up front is slow.
  // Global, also as for a directly linked library: with RTLD_LOCAL, every CUDA forward pass of
  // `dfscan bench` crashed on an H200 with PyTorch 2.11's LibTorch (the directly linked tests ran
  // the same convolutions; with RTLD_GLOBAL it ran), most likely because cuDNN loads its engine
  // libraries itself at the first convolution and they must see the ones loaded here.
  void* cli = ::dlopen(DFSCAN_CLI_LIBRARY, RTLD_LAZY | RTLD_GLOBAL);
  if (cli == nullptr) {
    std::fprintf(stderr, "dfscan: cannot load %s: %s\n", DFSCAN_CLI_LIBRARY, ::dlerror());
    return 2;  // an operation failed (CONVENTIONS.md exit codes)
  }
  using Entry = int (*)(int, char**);
  auto entry = reinterpret_cast<Entry>(::dlsym(cli, "dfscan_cli_main"));
  if (entry == nullptr) {
    std::fprintf(stderr, "dfscan: %s has no dfscan_cli_main: %s\n", DFSCAN_CLI_LIBRARY, ::dlerror());
    return 2;
  }
  return entry(argc, argv);
}
