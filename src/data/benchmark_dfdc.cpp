// DFDC. Three manifests:
//  - train parts dfdc_train_part_<k>/metadata.json (also the Kaggle train_sample_videos/):
//    {"x.mp4": {"label": "FAKE"|"REAL", "split": "train", "original": ...}};
//  - the public test set test/labels.csv: filename,label with 1 = fake;
//  - the preview (DFDCP) dataset.json: {"method_A/1/1_A/x.mp4": {"label": "fake"|"real",
//    "set": "train"|"test"}}.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "data/benchmark_common.hpp"
#include "dfscan/csv.hpp"
#include "dfscan/status.hpp"

namespace dfscan::data::detail {
namespace fs = std::filesystem;

namespace {
const std::vector<std::string> kVideo = {".mp4"};

nlohmann::json read_json(const fs::path& file) {
  try {
    return nlohmann::json::parse(read_text_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw Error(Status::error, file.string() + ": not JSON: " + one_line(e.what()));
  }
}

std::string field(const nlohmann::json& entry, const char* key) {
  auto it = entry.find(key);
  return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// 1 for a FAKE entry, 0 for a REAL one, in either case; anything else names the entry. `spelling`
// is how the manifest writes its labels, for the message.
int fake_label(const nlohmann::json& entry, const fs::path& manifest, const std::string& name,
               const char* spelling) {
  const auto raw = field(entry, "label");
  if (lower(raw) == "fake") return 1;
  if (lower(raw) == "real") return 0;
  throw Error(Status::error,
              manifest.string() + ": entry '" + name + "': label '" + raw + "' is not " + spelling);
}

std::string relative_to(const fs::path& p, const fs::path& root) {
  const auto rel = fs::path(p).lexically_relative(root).generic_string();
  return rel.empty() || rel == "." ? std::string() : rel;
}

// Returns the folder whose videos the file describes, to check for extras once all are read.
std::string read_metadata(LayoutCollector& c, const fs::path& file) {
  const auto j = read_json(file);
  if (!j.is_object()) throw Error(Status::error, file.string() + ": expected an object keyed by file name");
  const auto part = relative_to(file.parent_path(), c.root());
  const std::string prefix = part.empty() ? "" : part + "/";
  const std::string part_name = part.empty() ? c.root().filename().string() : part;
  for (const auto& [name, entry] : j.items()) {
    if (!entry.is_object())
      throw Error(Status::error, file.string() + ": entry '" + name + "' is not an object");
    const int label = fake_label(entry, file, name, "REAL or FAKE");
    Split split = Split::train;
    if (const auto raw_split = field(entry, "split"); !raw_split.empty()) {
      const auto s = split_from_string(raw_split);
      if (!s)
        throw Error(Status::error, file.string() + ": entry '" + name + "': split '" + raw_split +
                                       "' is not train/valid/test");
      split = *s;
    }
    c.expect(prefix + name, label, split, {{"source", "dfdc"}, {"part", part_name}});
  }
  return part;
}

std::string read_labels_csv(LayoutCollector& c, const fs::path& file) {
  std::istringstream in(read_text_file(file));
  std::string line;
  size_t line_no = 0;
  int name_col = -1, label_col = -1;
  size_t columns = 0;
  const auto folder = relative_to(file.parent_path(), c.root());
  const std::string prefix = folder.empty() ? "" : folder + "/";
  const std::string part_name = folder.empty() ? c.root().filename().string() : folder;
  while (csv::read_line(in, line, line_no)) {
    if (trim(line).empty()) continue;
    auto fields = csv::split(line, file.string(), line_no);
    for (auto& f : fields) f = trim(f);
    if (name_col < 0) {
      for (size_t i = 0; i < fields.size(); ++i) {
        if (lower(fields[i]) == "filename") name_col = static_cast<int>(i);
        if (lower(fields[i]) == "label") label_col = static_cast<int>(i);
      }
      if (name_col < 0 || label_col < 0)
        throw Error(Status::error, at_line(file, line_no) + "header must name filename and label");
      columns = fields.size();
      continue;
    }
    if (fields.size() != columns)
      throw Error(Status::error, at_line(file, line_no) + "expected " + std::to_string(columns) +
                                     " fields, found " + std::to_string(fields.size()));
    const auto& raw = fields[label_col];
    if (raw != "0" && raw != "1")
      throw Error(Status::error, at_line(file, line_no) + "label '" + raw + "' is not 1 (fake) or 0 (real)");
    c.expect(prefix + fields[name_col], raw == "1" ? 1 : 0, Split::test,
             {{"source", "dfdc"}, {"part", part_name}});
  }
  if (name_col < 0) throw Error(Status::error, file.string() + ": empty");
  return folder;
}

BenchmarkDataset open_preview(const fs::path& root, const fs::path& manifest,
                              const BenchmarkOptions& options) {
  LayoutCollector c("dfdcp", root, options);
  const auto j = read_json(manifest);
  if (!j.is_object()) throw Error(Status::error, manifest.string() + ": expected an object keyed by path");
  std::vector<std::string> tops;
  for (const auto& [rel, entry] : j.items()) {
    if (!entry.is_object())
      throw Error(Status::error, manifest.string() + ": entry '" + rel + "' is not an object");
    const int label = fake_label(entry, manifest, rel, "real or fake");
    const auto raw_set = field(entry, "set");
    const auto split = split_from_string(raw_set);
    if (!split)
      throw Error(Status::error,
                  manifest.string() + ": entry '" + rel + "': set '" + raw_set + "' is not train/test");
    const auto top = rel.substr(0, rel.find('/'));  // original_videos, method_A, method_B
    if (std::find(tops.begin(), tops.end(), top) == tops.end()) tops.push_back(top);
    c.expect(rel, label, *split, {{"source", "dfdcp"}, {"method", top}});
  }
  std::sort(tops.begin(), tops.end());
  for (const auto& top : tops) c.check_extras(top, kVideo);
  return c.finish("preview");
}
}  // namespace

BenchmarkDataset open_dfdc(const fs::path& root, const BenchmarkOptions& options) {
  const auto version = lower(trim(options.version));
  if (!version.empty() && version != "preview" && version != "full")
    throw Error(Status::error, "dfdc: version '" + options.version + "' is not full or preview");
  const auto manifest_name = lower(options.manifest.filename().string());
  if (version == "preview" || manifest_name == "dataset.json" ||
      (version.empty() && options.manifest.empty() && !first_file({root / "dataset.json"}).empty())) {
    const auto manifest = options.manifest.empty() ? root / "dataset.json" : options.manifest;
    if (first_file({manifest}).empty())
      throw Error(Status::not_found, "dfdc: preview manifest not found: " + manifest.string());
    return open_preview(root, manifest, options);
  }

  std::vector<fs::path> metadata, labels;
  if (!options.manifest.empty()) {
    if (first_file({options.manifest}).empty())
      throw Error(Status::not_found, "dfdc: manifest not found: " + options.manifest.string());
    (manifest_name == "labels.csv" ? labels : metadata).push_back(options.manifest);
  } else {
    // The root itself may be one part or the test folder; parts may sit one level deeper after unzip.
    if (auto f = first_file({root / "metadata.json"}); !f.empty()) metadata.push_back(f);
    if (auto f = first_file({root / "labels.csv"}); !f.empty()) labels.push_back(f);
    std::error_code ec;
    std::vector<fs::path> subdirs;
    for (const auto& e : fs::directory_iterator(root, ec))
      if (e.is_directory(ec)) subdirs.push_back(e.path());
    std::sort(subdirs.begin(), subdirs.end());
    for (const auto& d : subdirs) {
      if (auto f = first_file({d / "metadata.json"}); !f.empty()) metadata.push_back(f);
      if (auto f = first_file({d / "labels.csv"}); !f.empty()) labels.push_back(f);
      std::vector<fs::path> nested;
      for (const auto& e : fs::directory_iterator(d, ec))
        if (e.is_directory(ec)) nested.push_back(e.path());
      std::sort(nested.begin(), nested.end());
      for (const auto& n : nested)
        if (auto f = first_file({n / "metadata.json"}); !f.empty()) metadata.push_back(f);
    }
  }
  if (metadata.empty() && labels.empty())
    throw Error(Status::not_found,
                "dfdc: no metadata.json, labels.csv or dataset.json under " + root.string());
  LayoutCollector c("dfdc", root, options);
  std::vector<std::string> folders;
  for (const auto& m : metadata) folders.push_back(read_metadata(c, m));
  for (const auto& l : labels) folders.push_back(read_labels_csv(c, l));
  for (const auto& f : folders) c.check_extras(f, kVideo);
  return c.finish(std::to_string(metadata.size()) + " metadata.json, " + std::to_string(labels.size()) +
                  " labels.csv");
}

}  // namespace dfscan::data::detail
