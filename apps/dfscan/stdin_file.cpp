#include "stdin_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "dfscan/log.hpp"

namespace dfscan::cli {
namespace {

std::string temporary_directory() {
  const char* dir = std::getenv("TMPDIR");
  return dir && *dir ? dir : "/tmp";
}

// Copies fd `from` to fd `to`; returns an error message, empty on success.
std::string copy_all(int from, int to, std::uint64_t& bytes) {
  std::vector<char> buffer(1 << 20);
  for (;;) {
    const ssize_t got = ::read(from, buffer.data(), buffer.size());
    if (got == 0) return "";
    if (got < 0) {
      if (errno == EINTR) continue;
      return std::string("cannot read standard input: ") + std::strerror(errno);
    }
    for (ssize_t done = 0; done < got;) {
      const ssize_t put = ::write(to, buffer.data() + done, static_cast<size_t>(got - done));
      if (put < 0) {
        if (errno == EINTR) continue;
        return "cannot copy standard input to " + temporary_directory() + ": " + std::strerror(errno);
      }
      done += put;
    }
    bytes += static_cast<std::uint64_t>(got);
  }
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

StdinFile::StdinFile(const std::vector<std::string>& paths) {
  const auto uses = std::count(paths.begin(), paths.end(), kStdinPath);
  if (uses == 0) return;
  if (uses > 1) throw CLI::ValidationError("PATH", "'-' (standard input) is given more than once");
  if (::isatty(STDIN_FILENO))
    throw CLI::ValidationError("PATH",
                               "'-' reads a file from standard input, which is a terminal; pipe one in");

  std::string pattern = temporary_directory() + "/dfscan-stdin-XXXXXX";
  fd_ = ::mkstemp(pattern.data());
  if (fd_ < 0) {
    failure_ = "cannot create a temporary file in " + temporary_directory() + ": " + std::strerror(errno);
  } else {
    ::unlink(pattern.c_str());
    std::uint64_t bytes = 0;
    failure_ = copy_all(STDIN_FILENO, fd_, bytes);
    if (failure_.empty())
      log::debug("standard input: " + std::to_string(bytes) + " bytes copied to an unlinked file in " +
                 temporary_directory());
  }
  proc_path_ = failure_.empty() ? "/proc/self/fd/" + std::to_string(fd_) : "/nonexistent/dfscan-stdin";
}

StdinFile::~StdinFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string StdinFile::readable(const std::string& path) const {
  return path == kStdinPath && !proc_path_.empty() ? proc_path_ : path;
}

void StdinFile::restore(nlohmann::json& record) const {
  if (proc_path_.empty() || record.value("path", "") != proc_path_) return;
  record["path"] = kStdinPath;
  if (!failure_.empty()) {
    record["status"] = "error";
    record["error"] = failure_;
    return;
  }
  if (record.contains("error") && record["error"].is_string()) {
    auto message = record["error"].get<std::string>();
    replace_all(message, proc_path_, kStdinPath);
    record["error"] = message;
  }
  if (record.contains("warnings") && record["warnings"].is_array())
    for (auto& w : record["warnings"])
      if (w.is_string()) {
        auto text = w.get<std::string>();
        replace_all(text, proc_path_, kStdinPath);
        w = text;
      }
}

}  // namespace dfscan::cli
