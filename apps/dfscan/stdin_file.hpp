#pragma once
// "-" as an input path means standard input (`curl -s URL | dfscan -`). The media readers seek (an
// MP4's index may sit at its end), so the stream is first copied to a temporary file that is
// unlinked at once, which no way of ending the process can leave behind, and readers open it
// through /proc/self/fd. Records name it "-".
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dfscan::cli {

inline constexpr const char* kStdinPath = "-";

class StdinFile {
 public:
  // Copies standard input when `paths` names "-", else does nothing. Throws CLI::ValidationError
  // when "-" appears twice or standard input is a terminal. A failed copy (a full disk) is not
  // thrown: that one input gets an `error` record through restore(), and the others still run.
  explicit StdinFile(const std::vector<std::string>& paths);
  ~StdinFile();
  StdinFile(const StdinFile&) = delete;
  StdinFile& operator=(const StdinFile&) = delete;

  // The path a reader should open for `path`: itself, unless it is "-".
  std::string readable(const std::string& path) const;
  // Names "-" again in a record made from readable("-"): its path, and its error and warnings.
  void restore(nlohmann::json& record) const;

 private:
  int fd_ = -1;
  std::string proc_path_;  // /proc/self/fd/N, or a path that does not exist when the copy failed
  std::string failure_;
};

}  // namespace dfscan::cli
