// DeepfakeTIMIT: lower_quality/ and higher_quality/<subject>/<sentence>-video-<source>.avi, all
// fakes (the .wav beside them is their audio). The real half is VidTIMIT, paired by subject and
// sentence: <subject>/<sentence>.avi when re-encoded, else the original JPEG frame folder
// <subject>/video/<sentence>/ (one sample per frame, grouped by sequence). No official split: test.
#include <algorithm>
#include <set>
#include <system_error>

#include "data/benchmark_common.hpp"
#include "dfscan/status.hpp"

namespace dfscan::data::detail {
namespace fs = std::filesystem;

BenchmarkDataset open_deepfaketimit(const fs::path& root, const BenchmarkOptions& options) {
  std::vector<std::string> qualities;
  const auto v = lower(trim(options.version));
  if (v.empty() || v == "lq" || v == "lower_quality") qualities.push_back("lower_quality");
  if (v.empty() || v == "hq" || v == "higher_quality") qualities.push_back("higher_quality");
  if (qualities.empty())
    throw Error(Status::error, "deepfaketimit: version '" + options.version + "' is not lq or hq");

  LayoutCollector c("deepfaketimit", root, options);
  std::set<std::pair<std::string, std::string>> pairs;  // (subject, sentence)
  size_t present = 0;
  for (const auto& q : qualities) {
    const auto dir = find_ignoring_case(root, q);
    if (dir.empty()) continue;
    ++present;
    const auto on_disk = dir.filename().string();
    for (const auto& f : list_files(dir)) {
      const fs::path rel(f);
      const auto ext = lower(rel.extension().string());
      const auto parts = std::distance(rel.begin(), rel.end());
      if (ext == ".wav" && parts == 2) continue;
      if (ext != ".avi" || parts != 2) {
        c.extra(on_disk + "/" + f);
        continue;
      }
      const auto subject = rel.begin()->string();
      const auto stem = rel.stem().string();
      const auto cut = stem.find("-video-");
      pairs.emplace(subject, stem.substr(0, cut));
      c.expect(on_disk + "/" + f, 1, Split::test, {{"source", "deepfaketimit"}, {"quality", q}}, true);
    }
  }
  if (present == 0)
    throw Error(Status::not_found,
                "deepfaketimit: no lower_quality/ or higher_quality/ under " + root.string());

  fs::path vid = options.real_root;
  if (vid.empty()) {
    vid = find_ignoring_case(root, "VidTIMIT");
    if (vid.empty()) vid = find_ignoring_case(root.parent_path(), "VidTIMIT");
    if (vid.empty()) vid = root / "VidTIMIT";  // absent: every real is reported missing
  }
  // Inside the root: relative paths in reports; elsewhere absolute.
  const auto inside = vid.lexically_relative(root);
  const std::string base =
      !inside.empty() && *inside.begin() != ".." ? inside.generic_string() : vid.string();
  std::error_code ec;
  for (const auto& [subject, sentence] : pairs) {
    const Groups g{{"source", "deepfaketimit"}, {"quality", "vidtimit"}};
    const auto avi = base + "/" + subject + "/" + sentence + ".avi";
    if (fs::is_regular_file(vid / subject / (sentence + ".avi"), ec)) {
      c.expect(avi, 0, Split::test, g, true);
      continue;
    }
    const auto frames = vid / subject / "video" / sentence;
    const auto files = list_files(frames);
    if (files.empty()) {
      c.expect(base + "/" + subject + "/video/" + sentence, 0, Split::test, g);  // reported missing
      continue;
    }
    auto gs = g;
    gs["sequence"] = "vidtimit/" + subject + "/" + sentence;
    for (const auto& f : files)
      c.expect(base + "/" + subject + "/video/" + sentence + "/" + f, 0, Split::test, gs, true);
  }
  return c.finish(std::to_string(pairs.size()) + " subject-sentence pairs");
}

}  // namespace dfscan::data::detail
