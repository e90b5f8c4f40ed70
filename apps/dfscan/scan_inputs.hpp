#pragma once
// Turning command-line inputs into the ordered list of files to scan.
#include <cstdint>
#include <string>
#include <vector>

namespace dfscan::cli {

struct InputFile {
  std::string path;       // as it will appear in the record
  std::string shard_key;  // relative to the directory argument it was found under, else as given
};

struct InputOptions {
  bool recursive = false;
  std::vector<std::string> include, exclude;  // fnmatch globs, tried on the relative path and the name
};

// Expands directories (sorted; one level unless recursive) and applies the globs. Paths that do
// not exist are kept, so that they get a not_found record.
std::vector<InputFile> expand_inputs(const std::vector<std::string>& args, const InputOptions& options);

// Reads a newline- or NUL-separated list ("-" is stdin). NUL wins when the data contains one. In
// a newline list, blank lines and lines starting with '#' are skipped (name such a file ./#x).
std::vector<std::string> read_file_list(const std::string& source);

std::uint64_t fnv1a64(const std::string& s);
// "I/N" -> (I, N); throws std::invalid_argument on bad syntax.
std::pair<std::uint64_t, std::uint64_t> parse_shard(const std::string& spec);

}  // namespace dfscan::cli
