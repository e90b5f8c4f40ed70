#pragma once
// Files that are either absent or complete: write to a temporary beside the target, then rename.
#include <filesystem>
#include <string_view>

namespace dfscan {

// Writes `content` to `path` through `path.tmp.<pid>` + fsync + rename. Throws dfscan::Error.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// The temporary name write_file_atomic uses; for writers that stream large files themselves.
std::filesystem::path temp_path_for(const std::filesystem::path& path);

// fsyncs `tmp` and renames it over `path`; the second half of an atomic write.
void commit_temp_file(const std::filesystem::path& tmp, const std::filesystem::path& path);

}  // namespace dfscan
