// Celeb-DF v1/v2: Celeb-real/, YouTube-real/ (reals), Celeb-synthesis/ (fakes). The test list
// List_of_testing_videos.txt has lines "<label> <folder>/<file>" where 1 = REAL, 0 = fake: the
// inverse of dfscan's convention, inverted here and cross-checked against the folder. Everything on
// disk that the list does not name is train data (no official train/val split exists).
#include <algorithm>
#include <set>
#include <sstream>
#include <system_error>

#include "data/benchmark_common.hpp"
#include "dfscan/status.hpp"

namespace dfscan::data::detail {
namespace fs = std::filesystem;

namespace {
struct Folder {
  const char* name;
  int label;
};
const Folder kFolders[] = {{"Celeb-real", 0}, {"YouTube-real", 0}, {"Celeb-synthesis", 1}};
const std::vector<std::string> kVideoExtensions = {".mp4", ".avi", ".mov", ".mkv", ".webm"};

// The folder's spelling on disk (the list and some copies write Youtube-real), else the official one.
std::string disk_name(const fs::path& root, const Folder& f) {
  const auto found = find_ignoring_case(root, f.name);
  return found.empty() ? f.name : found.filename().string();
}
}  // namespace

BenchmarkDataset open_celebdf(const fs::path& root, const BenchmarkOptions& options) {
  const auto version = options.version.empty() ? std::string("v2") : lower(trim(options.version));
  if (version != "v1" && version != "v2")
    throw Error(Status::error, "celebdf: version '" + options.version + "' is not v1 or v2");
  const std::string source = "celebdf-" + version;

  fs::path list = options.manifest;
  if (list.empty()) list = find_ignoring_case(root, "List_of_testing_videos.txt");
  if (list.empty() || first_file({list}).empty())
    throw Error(Status::not_found,
                "celebdf: test list List_of_testing_videos.txt not found in " + root.string());

  LayoutCollector c("celebdf", root, options);
  std::istringstream in(read_text_file(list));
  std::string line;
  size_t line_no = 0;
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    ++line_no;
    const auto fields = split_whitespace(line);
    if (fields.empty()) continue;
    if (fields.size() != 2)
      throw Error(Status::error,
                  at_line(list, line_no) + "expected '<1|0> <folder>/<file>', found '" + trim(line) + "'");
    int label;
    if (fields[0] == "1") {
      label = 0;  // 1 = real in this list
    } else if (fields[0] == "0") {
      label = 1;
    } else {
      throw Error(Status::error,
                  at_line(list, line_no) + "label '" + fields[0] + "' is not 1 (real) or 0 (fake)");
    }
    const auto slash = fields[1].find('/');
    const std::string folder = fields[1].substr(0, slash);
    const Folder* known = nullptr;
    for (const auto& f : kFolders)
      if (lower(f.name) == lower(folder)) known = &f;
    if (!known || slash == std::string::npos)
      throw Error(Status::error, at_line(list, line_no) + "'" + fields[1] +
                                     "' is not under Celeb-real/, YouTube-real/ or Celeb-synthesis/");
    if (known->label != label)
      throw Error(Status::error, at_line(list, line_no) + "'" + fields[1] + "' is listed as " +
                                     (label ? "fake" : "real") + " but " + known->name + "/ holds " +
                                     (known->label ? "fakes" : "reals"));
    const std::string rel = disk_name(root, *known) + fields[1].substr(slash);
    if (!seen.insert(rel).second)
      throw Error(Status::error, at_line(list, line_no) + "'" + fields[1] + "' is listed twice");
    c.expect(rel, label, Split::test, {{"source", source}, {"subset", known->name}});
  }
  if (seen.empty()) throw Error(Status::error, list.string() + ": no entries");

  // The rest of the videos are train data; anything that is not a video is extra.
  for (const auto& f : kFolders) {
    const auto folder = disk_name(root, f);
    for (const auto& file : list_files(root / folder)) {
      const auto rel = folder + "/" + file;
      if (seen.count(rel)) continue;
      const auto ext = lower(fs::path(file).extension().string());
      if (std::find(kVideoExtensions.begin(), kVideoExtensions.end(), ext) == kVideoExtensions.end()) {
        c.extra(rel);
        continue;
      }
      c.expect(rel, f.label, Split::train, {{"source", source}, {"subset", f.name}}, true);
    }
  }
  return c.finish(version);
}

}  // namespace dfscan::data::detail
