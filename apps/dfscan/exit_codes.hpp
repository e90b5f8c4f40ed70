#pragma once
// Exit codes shared by every subcommand (CONVENTIONS.md). Precedence: failure > fake > ok.

namespace dfscan::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFake = 1,
  kExitFailure = 2,
  kExitUsage = 64,
  kExitInterrupted = 130,
};

// Combines two outcomes with the documented precedence.
inline int worst_exit(int a, int b) {
  auto rank = [](int c) {
    return c == kExitInterrupted ? 4 : c == kExitUsage ? 3 : c == kExitFailure ? 2 : c;
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace dfscan::cli
