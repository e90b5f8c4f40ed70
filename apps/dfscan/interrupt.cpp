#include "interrupt.hpp"

#include <unistd.h>

#include <csignal>

#include "exit_codes.hpp"

namespace dfscan::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void on_interrupt(int) {
  if (g_interrupted.exchange(true)) _exit(kExitInterrupted);
  static const char message[] = "dfscan: stopping after the files in progress; interrupt again to stop now\n";
  (void)!::write(STDERR_FILENO, message, sizeof message - 1);
}

}  // namespace

InterruptGuard::InterruptGuard()
    : previous_int_(std::signal(SIGINT, on_interrupt)), previous_term_(std::signal(SIGTERM, on_interrupt)) {}

InterruptGuard::~InterruptGuard() {
  std::signal(SIGINT, previous_int_);
  std::signal(SIGTERM, previous_term_);
}

const std::atomic<bool>& InterruptGuard::flag() {
  return g_interrupted;
}

void InterruptGuard::stop() {
  g_interrupted = true;
}

}  // namespace dfscan::cli
