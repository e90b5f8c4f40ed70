#include "progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "dfscan/text.hpp"

namespace dfscan::cli {
namespace {

std::size_t terminal_width() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

}  // namespace

ProgressLine::ProgressLine(std::size_t total, bool enabled) : total_(total), enabled_(enabled) {}

std::string ProgressLine::format(std::size_t done, std::size_t total, double seconds, const std::string& note,
                                 std::size_t width) {
  std::string line = "[" + std::to_string(done) + "/" + std::to_string(total) + "]";
  // A rate from the first file alone says little (it includes the model warm-up).
  if (done >= 2 && seconds >= 1.0) {
    const double rate = static_cast<double>(done) / seconds;
    char buf[64];
    std::snprintf(buf, sizeof buf, rate >= 10 ? " %.0f files/s" : " %.2g files/s", rate);
    line += buf;
    if (done < total) line += ", " + format_duration(static_cast<double>(total - done) / rate) + " left";
  }
  if (!note.empty() && line.size() + 2 < width) {
    const std::size_t room = width - line.size() - 2;
    // Keep the end of a long path: the file name says more than the folders above it.
    line +=
        "  " + (note.size() <= room ? note : "..." + note.substr(note.size() - (room > 3 ? room - 3 : 0)));
  }
  return line.substr(0, width);
}

void ProgressLine::update(std::size_t done, const std::string& note) {
  if (!enabled_) return;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // One column short of the width: a line that fills it makes some terminals wrap early.
  std::cerr << "\r\033[K" << format(done, total_, seconds, note, terminal_width() - 1) << std::flush;
  shown_ = true;
}

void ProgressLine::clear() {
  if (!shown_) return;
  std::cerr << "\r\033[K" << std::flush;
  shown_ = false;
}

}  // namespace dfscan::cli
