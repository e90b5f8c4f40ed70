// WildDeepfake: split folders real_train/, fake_train/, real_test/, fake_test/ (possibly under a
// wrapper folder, or doubled as real_test/real_test/), each with archives <N>.tar.gz that hold
// <N>/<real|fake>/<sequence>/<frame>.png. Archives are read in place (sample path
// "<N>.tar.gz#<member>"); an extracted <N>/ folder next to its archive is used instead.
// One sample per face frame, grouped by sequence; the label comes from the split folder and must
// agree with the inner real|fake folder.
#include <algorithm>
#include <system_error>

#include "data/benchmark_common.hpp"
#include "dfscan/status.hpp"

namespace dfscan::data::detail {
namespace fs = std::filesystem;

namespace {
const std::vector<std::string> kImages = {".png", ".jpg", ".jpeg"};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ROOT/name, ROOT/*/name; then one more ROOT/.../name/name level when present.
fs::path find_split_dir(const fs::path& root, const std::string& name) {
  std::error_code ec;
  fs::path dir;
  if (fs::is_directory(root / name, ec)) {
    dir = root / name;
  } else {
    std::vector<fs::path> subdirs;
    for (const auto& e : fs::directory_iterator(root, ec))
      if (e.is_directory(ec)) subdirs.push_back(e.path());
    std::sort(subdirs.begin(), subdirs.end());
    for (const auto& d : subdirs)
      if (fs::is_directory(d / name, ec)) {
        dir = d / name;
        break;
      }
  }
  if (!dir.empty() && fs::is_directory(dir / name, ec)) dir /= name;
  return dir;
}

struct SplitDir {
  const char* name;
  int label;
  Split split;
};
const SplitDir kSplits[] = {{"real_train", 0, Split::train},
                            {"fake_train", 1, Split::train},
                            {"real_test", 0, Split::test},
                            {"fake_test", 1, Split::test}};
}  // namespace

BenchmarkDataset open_wilddeepfake(const fs::path& root, const BenchmarkOptions& options) {
  LayoutCollector c("wilddeepfake", root, options);
  size_t split_dirs = 0, archives = 0, extracted = 0;
  for (const auto& s : kSplits) {
    const auto dir = find_split_dir(root, s.name);
    if (dir.empty()) continue;
    ++split_dirs;
    const auto dir_rel = dir.lexically_relative(root).generic_string();
    const std::string label_name = s.label ? "fake" : "real";

    // A member "<N>/<label>/<seq>/<frame>": checks it and adds it; anything else is extra.
    auto add = [&](const std::string& member, const std::string& rel, const std::string& where) {
      const auto parts = [&] {
        std::vector<std::string> out;
        size_t i = 0;
        while (i <= member.size()) {
          const auto j = std::min(member.find('/', i), member.size());
          out.push_back(member.substr(i, j - i));
          i = j + 1;
        }
        return out;
      }();
      const auto ext = lower(fs::path(member).extension().string());
      if (parts.size() != 4 || std::find(kImages.begin(), kImages.end(), ext) == kImages.end()) {
        c.extra(rel);
        return;
      }
      if (parts[1] != "real" && parts[1] != "fake") {
        c.extra(rel);
        return;
      }
      if (parts[1] != label_name)
        throw Error(Status::error, "wilddeepfake: " + where + ": member " + member + " is " + parts[1] +
                                       " but " + s.name + "/ holds " + label_name + " sequences");
      c.expect(
          rel, s.label, s.split,
          {{"source", "wilddeepfake"}, {"sequence", std::string(s.name) + "/" + parts[0] + "/" + parts[2]}},
          true);
    };

    std::error_code ec;
    std::vector<fs::path> entries;
    for (const auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e.path());
    std::sort(entries.begin(), entries.end());
    for (const auto& e : entries) {
      const auto name = e.filename().string();
      if (!name.empty() && name[0] == '.') continue;
      if (fs::is_directory(e, ec)) {
        ++extracted;
        for (const auto& f : list_files(e))
          add(name + "/" + f, dir_rel + "/" + name + "/" + f, dir_rel + "/" + name);
      } else if (ends_with(name, ".tar.gz") || ends_with(name, ".tgz")) {
        const auto n = name.substr(0, name.size() - (ends_with(name, ".tgz") ? 4 : 7));
        if (fs::is_directory(dir / n, ec)) continue;  // already extracted
        ++archives;
        for (const auto& m : list_tar_gz(e))
          if (m.regular) add(m.name, dir_rel + "/" + name + "#" + m.name, dir_rel + "/" + name);
      } else {
        c.extra(dir_rel + "/" + name);
      }
    }
  }
  if (split_dirs == 0)
    throw Error(
        Status::not_found,
        "wilddeepfake: none of real_train/, fake_train/, real_test/, fake_test/ under " + root.string());
  return c.finish(std::to_string(archives) + " archives, " + std::to_string(extracted) + " extracted");
}

}  // namespace dfscan::data::detail
