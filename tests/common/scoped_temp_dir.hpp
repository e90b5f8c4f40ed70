#pragma once
// A temporary directory for tests, deleted recursively when it goes out of scope.
//
// Deletion walks the tree with directory_iterator and fs::remove instead of calling
// std::filesystem::remove_all: PyTorch 2.x's libtorch.so exports its own, broken copy of remove_all,
// which the dynamic linker may pick over libstdc++'s and which crashes (seen on the CUDA box).
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace dfscan::test {

// Removes `path` and everything under it; symbolic links are removed, never followed. Errors are
// ignored (a test's cleanup must not throw), so it returns whether the path is gone.
inline bool remove_tree(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::symlink_status(path, ec);
  if (ec || status.type() == fs::file_type::not_found) return true;
  if (status.type() == fs::file_type::directory) {
    std::vector<fs::path> children;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
      children.push_back(it->path());
    for (const auto& child : children) remove_tree(child);
  }
  fs::remove(path, ec);
  return !fs::exists(fs::symlink_status(path, ec));
}

class ScopedTempDir {
 public:
  // TMPDIR/dfscan-TAG-PID-N, empty and freshly created.
  explicit ScopedTempDir(const std::string& tag = "test") {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("dfscan-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    remove_tree(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScopedTempDir() { remove_tree(path_); }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& child) const { return path_ / child; }

 private:
  std::filesystem::path path_;
};

}  // namespace dfscan::test
