// open_benchmark's dispatch, the LayoutCollector every adapter reports through, and the folder/csv
// adapters (thin wrappers over dataset.cpp that add the layout check).
#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "data/benchmark_common.hpp"
#include "dfscan/status.hpp"

namespace dfscan::data {
namespace fs = std::filesystem;

namespace detail {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> split_whitespace(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t j = i;
    while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (j > i) out.emplace_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string at_line(const fs::path& file, size_t line_no) {
  return file.string() + ":" + std::to_string(line_no) + ": ";
}

std::string read_text_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(Status::not_found, "cannot open " + file.string());
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

fs::path first_file(const std::vector<fs::path>& candidates) {
  std::error_code ec;
  for (const auto& c : candidates)
    if (!c.empty() && fs::is_regular_file(c, ec)) return c;
  return {};
}

std::vector<std::string> list_files(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  // Datasets are often assembled from symlinked folders.
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) out.push_back(it->path().lexically_relative(dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

fs::path find_ignoring_case(const fs::path& dir, std::string_view name) {
  std::error_code ec;
  if (fs::exists(dir / std::string(name), ec)) return dir / std::string(name);
  if (!fs::is_directory(dir, ec)) return {};
  const auto want = lower(name);
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (lower(entry.path().filename().string()) == want) return entry.path();
  return {};
}

namespace {
constexpr size_t kExamples = 5;

void add_example(std::vector<std::string>& examples, const std::string& path) {
  if (examples.size() < kExamples) examples.push_back(path);
}

std::string join_examples(const std::vector<std::string>& examples, size_t total) {
  std::string out;
  for (const auto& e : examples) out += (out.empty() ? "" : ", ") + e;
  if (total > examples.size()) out += ", ...";
  return out;
}
}  // namespace

LayoutCollector::LayoutCollector(std::string benchmark, fs::path root, const BenchmarkOptions& options)
    : benchmark_(std::move(benchmark)), root_(std::move(root)), options_(options) {}

void LayoutCollector::expect(const std::string& rel, int label, Split split, Groups groups,
                             std::optional<bool> present) {
  named_.insert(rel);
  if (options_.split && *options_.split != split) return;
  ++report_.expected;
  const fs::path full = fs::path(rel).is_absolute() ? fs::path(rel) : root_ / rel;
  if (!present) {
    // A shard row "X.pth#ROW" exists when its shard does.
    fs::path on_disk = full;
    const auto s = full.string();
    if (const auto hash = s.rfind('#'); hash != std::string::npos && s.find(".pth#") != std::string::npos)
      on_disk = s.substr(0, hash);
    std::error_code ec;
    present = fs::exists(on_disk, ec);
  }
  if (*present) {
    ++report_.found;
  } else {
    ++report_.missing_count;
    add_example(report_.missing_examples, rel);
    if (!options_.keep_missing) return;
  }
  samples_.push_back(Sample{full.string(), label, split, std::move(groups)});
}

void LayoutCollector::check_extras(const std::string& dir_rel, const std::vector<std::string>& extensions) {
  for (const auto& file : list_files(root_ / dir_rel)) {
    const std::string rel = dir_rel.empty() ? file : (fs::path(dir_rel) / file).generic_string();
    if (!extensions.empty() && std::find(extensions.begin(), extensions.end(),
                                         lower(fs::path(file).extension().string())) == extensions.end())
      continue;
    if (!named_.count(rel)) extra(rel);
  }
}

void LayoutCollector::extra(const std::string& rel) {
  ++report_.extra_count;
  add_example(report_.extra_examples, rel);
}

BenchmarkDataset LayoutCollector::finish(const std::string& source_detail) {
  if (report_.missing_count > 0 && options_.require_files)
    throw Error(Status::not_found, benchmark_ + ": " + std::to_string(report_.missing_count) + " of " +
                                       std::to_string(report_.expected) + " files missing under " +
                                       root_.string() + " (" +
                                       join_examples(report_.missing_examples, report_.missing_count) +
                                       "); allow missing files to evaluate the rest");
  std::string source = benchmark_ + ":" + root_.string();
  if (!source_detail.empty()) source += " (" + source_detail + ")";
  return BenchmarkDataset{Dataset(std::move(source), std::move(samples_)), std::move(report_)};
}

}  // namespace detail

std::string LayoutReport::summary() const {
  std::string out = std::to_string(expected) + " expected, " + std::to_string(found) + " found, " +
                    std::to_string(missing_count) + " missing";
  if (missing_count > 0) out += " (" + detail::join_examples(missing_examples, missing_count) + ")";
  out += ", " + std::to_string(extra_count) + " extra";
  if (extra_count > 0) out += " (" + detail::join_examples(extra_examples, extra_count) + ")";
  return out;
}

namespace {
using detail::LayoutCollector;

// Re-checks an existing Dataset's files, for the split filter and the layout report.
BenchmarkDataset collect(const std::string& name, const Dataset& ds, const fs::path& root,
                         const BenchmarkOptions& options) {
  LayoutCollector c(name, root, options);
  for (const auto& s : ds) {
    // The dataset's paths already begin with `root` as given (relative, for a relative root), and
    // expect() joins root again: it wants them relative to root. Paths elsewhere stay as they are.
    const auto rel = fs::path(s.path).lexically_relative(root);
    const bool inside = !rel.empty() && *rel.begin() != "..";
    c.expect(inside ? rel.generic_string() : s.path, s.label, s.split, s.groups);
  }
  auto out = c.finish("");
  out.dataset = Dataset(ds.source(), std::vector<Sample>(out.dataset.begin(), out.dataset.end()));
  return out;
}

BenchmarkDataset open_folder(const fs::path& root, const BenchmarkOptions& options) {
  return collect("folder", read_folder_dataset(root), root, options);
}

BenchmarkDataset open_csv(const fs::path& csv, const BenchmarkOptions& options) {
  return collect("csv", read_csv_dataset(csv), csv.parent_path(), options);
}

using Opener = BenchmarkDataset (*)(const fs::path&, const BenchmarkOptions&);

BenchmarkDataset open_dfdc_preview(const fs::path& root, const BenchmarkOptions& options) {
  auto o = options;
  o.version = "preview";
  return detail::open_dfdc(root, o);
}

const std::vector<std::pair<std::string, Opener>>& registry() {
  static const std::vector<std::pair<std::string, Opener>> table = {
      {"folder", open_folder},
      {"csv", open_csv},
      {"ffpp", detail::open_ffpp},
      {"dfdc", detail::open_dfdc},
      {"celebdf", detail::open_celebdf},
      {"wilddeepfake", detail::open_wilddeepfake},
      {"deepfaketimit", detail::open_deepfaketimit},
      {"asvspoof2019la", detail::open_asvspoof2019la},
      {"asvspoof2021", detail::open_asvspoof2021},
      {"inthewild", detail::open_inthewild},
      {"dfdcp", open_dfdc_preview},
  };
  return table;
}
}  // namespace

std::vector<std::string> benchmark_names() {
  std::vector<std::string> out;
  for (const auto& [name, opener] : registry()) out.push_back(name);
  return out;
}

BenchmarkDataset open_benchmark(const std::string& name, const fs::path& root,
                                const BenchmarkOptions& options) {
  const auto want = detail::lower(detail::trim(name));
  for (const auto& [known, opener] : registry()) {
    if (known != want) continue;
    std::error_code ec;
    if (!fs::exists(root, ec)) throw Error(Status::not_found, name + ": root not found: " + root.string());
    try {
      return opener(root, options);
    } catch (const Error&) {
      throw;
    } catch (const fs::filesystem_error& e) {
      const bool denied = e.code() == std::errc::permission_denied;
      throw Error(denied ? Status::permission_denied : Status::error, name + ": " + one_line(e.what()));
    } catch (const std::exception& e) {
      throw Error(Status::error, name + ": " + one_line(e.what()));
    }
  }
  std::string names;
  for (const auto& n : benchmark_names()) names += (names.empty() ? "" : ", ") + n;
  throw Error(Status::unsupported, "unknown benchmark '" + name + "' (known: " + names + ")");
}

}  // namespace dfscan::data
