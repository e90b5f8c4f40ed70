#include "scan_inputs.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>

#include "dfscan/log.hpp"

namespace dfscan::cli {
namespace fs = std::filesystem;

namespace {
bool matches_any(const std::vector<std::string>& globs, const std::string& rel) {
  const auto name = fs::path(rel).filename().string();
  for (const auto& g : globs)
    if (fnmatch(g.c_str(), rel.c_str(), 0) == 0 || fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

bool keep(const InputOptions& o, const std::string& rel) {
  if (!o.include.empty() && !matches_any(o.include, rel)) return false;
  return !matches_any(o.exclude, rel);
}
}  // namespace

std::vector<InputFile> expand_inputs(const std::vector<std::string>& args, const InputOptions& options) {
  std::vector<InputFile> out;
  for (const auto& arg : args) {
    std::error_code ec;
    if (!fs::is_directory(arg, ec)) {
      if (keep(options, arg)) out.push_back({arg, arg});
      continue;
    }
    std::vector<std::string> found;
    auto add = [&](const fs::directory_entry& e) {
      std::error_code e2;
      if (e.is_directory(e2)) return;
      found.push_back(fs::relative(e.path(), arg, e2).string());
    };
    if (options.recursive) {
      for (auto it = fs::recursive_directory_iterator(arg, fs::directory_options::skip_permission_denied, ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        add(*it);
      }
    } else {
      for (const auto& e : fs::directory_iterator(arg, ec)) add(e);
    }
    std::sort(found.begin(), found.end());
    const auto before = out.size();
    for (const auto& rel : found)
      if (keep(options, rel)) out.push_back({(fs::path(arg) / rel).string(), rel});
    // A folder that gives nothing is most often one whose files sit in sub-folders.
    if (out.size() == before)
      log::warn(arg + ": no files" + (found.empty() ? "" : " left by --include/--exclude") +
                (options.recursive ? "" : " (sub-folders are read with -r)"));
  }
  return out;
}

std::vector<std::string> read_file_list(const std::string& source) {
  std::string data;
  if (source == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(source, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read file list " + source);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  const char sep = data.find('\0') != std::string::npos ? '\0' : '\n';
  std::vector<std::string> out;
  size_t start = 0;
  while (start < data.size()) {
    auto end = data.find(sep, start);
    if (end == std::string::npos) end = data.size();
    auto item = data.substr(start, end - start);
    if (sep == '\n' && !item.empty() && item.back() == '\r') item.pop_back();
    // A list written by hand may carry comments; `find -print0` output is taken whole.
    const bool comment = sep == '\n' && !item.empty() && item.front() == '#';
    if (!item.empty() && !comment) out.push_back(item);
    start = end + 1;
  }
  return out;
}

std::uint64_t fnv1a64(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::pair<std::uint64_t, std::uint64_t> parse_shard(const std::string& spec) {
  auto slash = spec.find('/');
  if (slash == std::string::npos) throw std::invalid_argument("shard must be I/N");
  size_t used = 0;
  const auto i = std::stoull(spec.substr(0, slash), &used);
  if (used != slash) throw std::invalid_argument("shard must be I/N");
  const auto n = std::stoull(spec.substr(slash + 1), &used);
  if (used != spec.size() - slash - 1 || n == 0 || i >= n)
    throw std::invalid_argument("shard must be I/N with 0 <= I < N");
  return {i, n};
}

}  // namespace dfscan::cli
