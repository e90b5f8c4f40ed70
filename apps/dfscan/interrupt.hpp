#pragma once
// Ctrl-C and SIGTERM for commands that stop between files (scan, eval --dataset, faces, probe).
// The first signal sets a flag: the command finishes the files in progress, reports what it has
// and exits 130. A second signal exits 130 at once, for when the file in progress is slow (a large
// image through NPR takes seconds); what -o wrote so far is whole, flushed lines.
#include <atomic>

namespace dfscan::cli {

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handlers for SIGINT and SIGTERM
  ~InterruptGuard();  // puts the previous ones back
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // Set by the first signal; pass it as a cancel flag.
  static const std::atomic<bool>& flag();
  static bool requested() { return flag().load(); }
  // Stops the command between files as a first signal does, for a reason of its own (its output
  // can no longer be written); the command chooses its exit code.
  static void stop();

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

}  // namespace dfscan::cli
