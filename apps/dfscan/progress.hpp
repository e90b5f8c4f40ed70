#pragma once
// The progress line on stderr, shown only on a terminal (or with --progress):
//   [120/4000] 3.2 files/s, 20m13s left  clips/interview_0120.mp4
// It is redrawn in place and cut to the terminal's width, since a line that wraps can no longer
// be erased with a carriage return.
#include <chrono>
#include <cstddef>
#include <string>

namespace dfscan::cli {

class ProgressLine {
 public:
  ProgressLine(std::size_t total, bool enabled);
  ~ProgressLine() { clear(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // `done` items finished, the last being `note` (a path).
  void update(std::size_t done, const std::string& note = "");
  // Erases the line, before other output goes to the same terminal.
  void clear();

  // "[done/total] rate, time left  note" within `width` columns; public for the tests.
  static std::string format(std::size_t done, std::size_t total, double seconds, const std::string& note,
                            std::size_t width);

 private:
  std::size_t total_;
  bool enabled_, shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace dfscan::cli
