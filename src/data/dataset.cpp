#include "dfscan/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>

#include "data/benchmark_common.hpp"
#include "dfscan/csv.hpp"
#include "dfscan/sbi.hpp"
#include "dfscan/status.hpp"

namespace dfscan::data {
namespace fs = std::filesystem;

const char* to_string(Split split) {
  switch (split) {
    case Split::train:
      return "train";
    case Split::valid:
      return "valid";
    case Split::test:
      return "test";
  }
  return "unknown";
}

// Text helpers shared with the benchmark adapters.
using detail::at_line;
using detail::lower;
using detail::trim;

std::optional<Split> split_from_string(std::string_view name) {
  const auto n = lower(trim(name));
  if (n == "train" || n == "training") return Split::train;
  if (n == "valid" || n == "val" || n == "validation" || n == "dev") return Split::valid;
  if (n == "test" || n == "testing") return Split::test;
  return std::nullopt;
}

Dataset::Dataset(std::string source, std::vector<Sample> samples)
    : source_(std::move(source)), samples_(std::move(samples)) {}

std::vector<Sample> Dataset::split(Split which) const {
  std::vector<Sample> out;
  for (const auto& s : samples_)
    if (s.split == which) out.push_back(s);
  return out;
}

std::string Dataset::summary() const {
  nlohmann::json j = nlohmann::json::object();
  for (Split s : {Split::train, Split::valid, Split::test}) {
    size_t fake = 0, real = 0;
    for (const auto& x : samples_)
      if (x.split == s) (x.label == 1 ? fake : real)++;
    if (fake + real > 0) j[to_string(s)] = {{"n", fake + real}, {"fake", fake}, {"real", real}};
  }
  return j.dump();
}

Dataset read_folder_dataset(const fs::path& root) {
  if (!fs::is_directory(root)) throw Error(Status::not_found, "dataset folder not found: " + root.string());
  std::vector<Sample> samples;
  bool any_split = false;
  // Each split once, under the first spelling present.
  const std::vector<std::pair<Split, std::vector<const char*>>> spellings = {
      {Split::train, {"train"}}, {Split::valid, {"valid", "val", "validation"}}, {Split::test, {"test"}}};
  for (const auto& [split, names] : spellings) {
    for (const char* name : names) {
      const auto dir = root / name;
      if (!fs::is_directory(dir)) continue;
      any_split = true;
      std::vector<std::pair<std::string, int>> found;
      for (const auto& [cls, label] : {std::pair{"real", 0}, std::pair{"fake", 1}}) {
        const auto class_dir = dir / cls;
        if (!fs::is_directory(class_dir)) continue;
        for (const auto& entry : fs::recursive_directory_iterator(class_dir)) {
          if (!entry.is_regular_file()) continue;
          const auto name_str = entry.path().filename().string();
          if (!name_str.empty() && name_str[0] == '.') continue;  // .DS_Store and friends
          found.emplace_back(fs::relative(entry.path(), dir).generic_string(), label);
        }
      }
      // Byte order of the path relative to the split folder: stable across file systems.
      std::sort(found.begin(), found.end());
      for (auto& [rel, label] : found) samples.push_back(Sample{(dir / rel).string(), label, split, {}});
      break;
    }
  }
  if (!any_split)
    throw Error(Status::error, "dataset folder " + root.string() + " has no train/, valid/ or test/ folder");
  return Dataset("folder:" + root.string(), std::move(samples));
}

namespace {
int parse_label(const std::string& raw, size_t line_no, const fs::path& file) {
  const auto v = lower(trim(raw));
  if (v == "1" || v == "fake") return 1;
  if (v == "0" || v == "real") return 0;
  throw Error(Status::error,
              file.string() + ":" + std::to_string(line_no) + ": label '" + raw + "' is not 1/0/fake/real");
}
}  // namespace

Dataset read_csv_dataset(const fs::path& file, const std::vector<std::string>& required_groups) {
  std::ifstream in(file);
  if (!in) throw Error(Status::not_found, "cannot open dataset CSV " + file.string());
  std::string line;
  size_t line_no = 0;
  std::vector<std::string> header;
  while (header.empty() && csv::read_line(in, line, line_no)) {
    if (!trim(line).empty()) header = csv::split(line, file.string(), line_no);
  }
  int path_col = -1, label_col = -1, split_col = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    header[i] = trim(header[i]);
    const auto h = lower(header[i]);
    if (h == "path") path_col = static_cast<int>(i);
    if (h == "label") label_col = static_cast<int>(i);
    if (h == "split") split_col = static_cast<int>(i);
  }
  const bool has_groups = std::all_of(
      required_groups.begin(), required_groups.end(),
      [&](const std::string& g) { return std::find(header.begin(), header.end(), g) != header.end(); });
  if (path_col < 0 || label_col < 0 || split_col < 0 || !has_groups) {
    std::string names = "path, label";
    for (const auto& g : required_groups) names += ", " + g;
    throw Error(Status::error, at_line(file, line_no) + "the header must name " + names + " and split");
  }
  const auto base = file.parent_path();
  std::vector<Sample> samples;
  while (csv::read_line(in, line, line_no)) {
    if (trim(line).empty()) continue;
    auto fields = csv::split(line, file.string(), line_no);
    if (fields.size() != header.size())
      throw Error(Status::error, file.string() + ":" + std::to_string(line_no) + ": expected " +
                                     std::to_string(header.size()) + " fields, found " +
                                     std::to_string(fields.size()));
    Sample s;
    fs::path p = trim(fields[path_col]);
    if (p.empty()) throw Error(Status::error, file.string() + ":" + std::to_string(line_no) + ": empty path");
    s.path = (p.is_absolute() ? p : base / p).string();
    s.label = parse_label(fields[label_col], line_no, file);
    auto split = split_from_string(fields[split_col]);
    if (!split)
      throw Error(Status::error, file.string() + ":" + std::to_string(line_no) + ": split '" +
                                     fields[split_col] + "' is not train/valid/test");
    s.split = *split;
    for (size_t i = 0; i < header.size(); ++i)
      if (static_cast<int>(i) != path_col && static_cast<int>(i) != label_col &&
          static_cast<int>(i) != split_col)
        s.groups[header[i]] = trim(fields[i]);
    samples.push_back(std::move(s));
  }
  return Dataset("csv:" + file.string(), std::move(samples));
}

Dataset open_dataset(const std::string& spec) {
  if (is_self_blend_spec(spec)) return open_self_blend_dataset(spec);
  const fs::path p(spec);
  std::error_code ec;
  if (fs::is_directory(p, ec)) return read_folder_dataset(p);
  if (lower(p.extension().string()) == ".csv") return read_csv_dataset(p);
  if (!fs::exists(p, ec)) throw Error(Status::not_found, "dataset not found: " + spec);
  throw Error(Status::unsupported, "dataset '" + spec + "' is neither a folder nor a .csv file");
}

}  // namespace dfscan::data
