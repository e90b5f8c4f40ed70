#include "dfscan/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "dfscan/status.hpp"

namespace dfscan {
namespace {
[[noreturn]] void fail(const std::string& what, const std::filesystem::path& p) {
  throw Error(Status::error, what + " " + p.string() + ": " + std::strerror(errno));
}

void fsync_path(const std::filesystem::path& p, int flags) {
  int fd = ::open(p.c_str(), flags);
  if (fd < 0) return;  // best effort for directories on exotic filesystems
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  return path.string() + ".tmp." + std::to_string(::getpid());
}

void commit_temp_file(const std::filesystem::path& tmp, const std::filesystem::path& path) {
  fsync_path(tmp, O_RDONLY);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    fail("cannot rename into", path);
  }
  auto dir = path.parent_path();
  fsync_path(dir.empty() ? std::filesystem::path(".") : dir, O_RDONLY | O_DIRECTORY);
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  auto tmp = temp_path_for(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create", tmp);
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      errno = saved;
      fail("cannot write", tmp);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    fail("cannot flush", tmp);
  }
  commit_temp_file(tmp, path);
}

}  // namespace dfscan
