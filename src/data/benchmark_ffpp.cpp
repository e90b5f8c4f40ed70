// FaceForensics++ (and DeepFakeDetection, which ships inside it). Reals are
// original_sequences/youtube/<comp>/videos/<id>.mp4; fakes manipulated_sequences/<Method>/<comp>/
// videos/<a>_<b>.mp4. The official split files list id pairs [a, b]: both reals and both fakes
// (a_b and b_a) of a pair belong to the pair's split. DFD has no split: all of it is test data.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <system_error>

#include "data/benchmark_common.hpp"
#include "dfscan/status.hpp"

namespace dfscan::data::detail {
namespace fs = std::filesystem;

namespace {
const std::vector<std::string> kMethods = {"Deepfakes",      "Face2Face",   "FaceSwap",
                                           "NeuralTextures", "FaceShifter", "DeepFakeDetection"};
const std::vector<std::string> kClassic = {"Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"};

std::string canonical_method(const std::string& name) {
  static const std::map<std::string, std::string> aliases = {
      {"df", "Deepfakes"},    {"f2f", "Face2Face"},  {"fs", "FaceSwap"},          {"nt", "NeuralTextures"},
      {"fsh", "FaceShifter"}, {"fh", "FaceShifter"}, {"dfd", "DeepFakeDetection"}};
  const auto key = lower(trim(name));
  for (const auto& m : kMethods)
    if (lower(m) == key) return m;
  if (auto it = aliases.find(key); it != aliases.end()) return it->second;
  std::string known;
  for (const auto& m : kMethods) known += (known.empty() ? "" : ", ") + m;
  throw Error(Status::error, "ffpp: unknown method '" + name + "' (known: " + known + ")");
}

std::string canonical_compression(const std::string& name) {
  const auto c = lower(trim(name));
  if (c == "raw" || c == "c0") return "raw";  // the download script names the lossless folder raw
  if (c == "c23" || c == "c40") return c;
  throw Error(Status::error, "ffpp: compression '" + name + "' is not raw (c0), c23 or c40");
}

// The folder holding train.json, val.json and test.json.
fs::path find_split_folder(const fs::path& root, const BenchmarkOptions& options) {
  std::vector<fs::path> candidates;
  if (!options.manifest.empty()) {
    candidates.push_back(fs::is_directory(options.manifest) ? options.manifest
                                                            : options.manifest.parent_path());
  } else {
    candidates = {root / "splits", root / "dataset" / "splits", root};
  }
  for (const auto& dir : candidates)
    if (!first_file({dir / "train.json"}).empty()) return dir;
  throw Error(Status::not_found, "ffpp: split files train/val/test.json not found in " +
                                     candidates[0].string() +
                                     (options.manifest.empty() ? " (or dataset/splits, or the root)" : ""));
}

// Pairs of a split file, in file order.
std::vector<std::pair<std::string, std::string>> read_pairs(const fs::path& file) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw Error(Status::error, file.string() + ": not JSON: " + one_line(e.what()));
  }
  if (!j.is_array()) throw Error(Status::error, file.string() + ": expected an array of id pairs");
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& p = j[i];
    if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_string())
      throw Error(Status::error,
                  file.string() + ": entry " + std::to_string(i) + " is not a pair of id strings");
    pairs.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
  }
  return pairs;
}

bool has_folder(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
}  // namespace

BenchmarkDataset open_ffpp(const fs::path& root, const BenchmarkOptions& options) {
  const auto comp = canonical_compression(options.compression);
  std::vector<std::string> methods;
  for (const auto& m : options.methods) {
    auto c = canonical_method(m);
    if (std::find(methods.begin(), methods.end(), c) == methods.end()) methods.push_back(c);
  }
  if (methods.empty()) {
    // What was downloaded; DFD only on request (it has no split and its own reals).
    for (const auto& m : kMethods)
      if (m != "DeepFakeDetection" && has_folder(root / "manipulated_sequences" / m / comp))
        methods.push_back(m);
    if (methods.empty()) methods = kClassic;
  }
  const bool with_dfd = std::find(methods.begin(), methods.end(), "DeepFakeDetection") != methods.end();
  const bool with_youtube = methods.size() > (with_dfd ? 1u : 0u);

  LayoutCollector c("ffpp", root, options);
  auto groups = [&](const std::string& method) {
    return Groups{{"source", "ffpp"}, {"method", method}, {"compression", comp}};
  };

  if (with_youtube) {
    const auto dir = find_split_folder(root, options);
    std::map<std::string, Split> split_of;  // real id -> split
    std::vector<std::pair<std::pair<std::string, std::string>, Split>> pairs;
    for (const auto& [file, split] :
         {std::pair{"train.json", Split::train}, std::pair{"val.json", Split::valid},
          std::pair{"test.json", Split::test}}) {
      for (const auto& p : read_pairs(dir / file)) {
        for (const auto& id : {p.first, p.second}) {
          if (!split_of.emplace(id, split).second)
            throw Error(Status::error,
                        (dir / file).string() + ": id " + id + " appears in more than one pair");
        }
        pairs.emplace_back(p, split);
      }
    }
    const std::string real_dir = "original_sequences/youtube/" + comp + "/videos";
    for (const auto& [id, split] : split_of)
      c.expect(real_dir + "/" + id + ".mp4", 0, split, groups("original"));
    c.check_extras(real_dir);
    for (const auto& method : methods) {
      if (method == "DeepFakeDetection") continue;
      const std::string fake_dir = "manipulated_sequences/" + method + "/" + comp + "/videos";
      std::vector<std::pair<std::string, Split>> fakes;
      for (const auto& [p, split] : pairs) {
        fakes.emplace_back(p.first + "_" + p.second, split);
        fakes.emplace_back(p.second + "_" + p.first, split);
      }
      std::sort(fakes.begin(), fakes.end());
      for (const auto& [name, split] : fakes)
        c.expect(fake_dir + "/" + name + ".mp4", 1, split, groups(method));
      // An unpaired fake (e.g. 000_003) lands here.
      c.check_extras(fake_dir);
    }
  }

  if (with_dfd) {
    // No manifest: what is on disk is the dataset, all of it test data.
    const std::string real_dir = "original_sequences/actors/" + comp + "/videos";
    const std::string fake_dir = "manipulated_sequences/DeepFakeDetection/" + comp + "/videos";
    if (!has_folder(root / real_dir) && !has_folder(root / fake_dir))
      throw Error(Status::not_found, "ffpp: DeepFakeDetection needs " + real_dir + " and " + fake_dir +
                                         " under " + root.string());
    for (const auto& f : list_files(root / real_dir))
      c.expect(real_dir + "/" + f, 0, Split::test, groups("DeepFakeDetection_original"));
    for (const auto& f : list_files(root / fake_dir))
      c.expect(fake_dir + "/" + f, 1, Split::test, groups("DeepFakeDetection"));
  }

  std::string detail = comp;
  for (const auto& m : methods) detail += (detail == comp ? "; " : ",") + m;
  return c.finish(detail);
}

}  // namespace dfscan::data::detail
