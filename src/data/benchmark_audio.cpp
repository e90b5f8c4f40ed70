// Audio anti-spoofing benchmarks. Bona fide = real (0), spoof = fake (1), converted here once.
//  - ASVspoof 2019 LA: CM protocols "<speaker> <utt> - <attack|-> <bonafide|spoof>", audio in
//    ASVspoof2019_LA_<train|dev|eval>/flac/<utt>.flac; train/dev/eval = train/valid/test.
//  - ASVspoof 2021 LA/DF: keys/<LA|DF>/CM/trial_metadata.txt (LA 8 columns, DF 13), filtered by
//    the subset column (eval by default, as papers report); audio in ASVspoof2021_<T>_eval*/flac.
//  - In-the-Wild: meta.csv "file,speaker,label" with label bona-fide (hyphenated) or spoof.
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>
#include <unordered_set>

#include "data/benchmark_common.hpp"
#include "dfscan/csv.hpp"
#include "dfscan/status.hpp"

namespace dfscan::data::detail {
namespace fs = std::filesystem;

namespace {
// bonafide -> 0, spoof -> 1; anything else is an error naming the line.
int spoof_label(const std::string& key, const fs::path& file, size_t line_no) {
  if (key == "bonafide") return 0;
  if (key == "spoof") return 1;
  throw Error(Status::error, at_line(file, line_no) + "key '" + key + "' is not bonafide or spoof");
}

bool is_attack_id(const std::string& s) {
  return s.size() == 3 && s[0] == 'A' && std::isdigit(static_cast<unsigned char>(s[1])) &&
         std::isdigit(static_cast<unsigned char>(s[2]));
}

struct Protocol {
  fs::path file;
  Split split;
  std::string part;  // train, dev, eval
};

std::optional<Protocol> protocol_of(const fs::path& file) {
  const auto name = file.filename().string();
  if (name.find(".train.") != std::string::npos) return Protocol{file, Split::train, "train"};
  if (name.find(".dev.") != std::string::npos) return Protocol{file, Split::valid, "dev"};
  if (name.find(".eval.") != std::string::npos) return Protocol{file, Split::test, "eval"};
  return std::nullopt;
}
}  // namespace

BenchmarkDataset open_asvspoof2019la(const fs::path& root, const BenchmarkOptions& options) {
  std::vector<Protocol> protocols;
  const fs::path dir = options.manifest.empty() ? root / "ASVspoof2019_LA_cm_protocols" : options.manifest;
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) {
    auto p = protocol_of(dir);
    if (!p)
      throw Error(Status::error, "asvspoof2019la: cannot tell the split of " + dir.string() +
                                     " (its name names none of .train., .dev., .eval.)");
    protocols.push_back(*p);
  } else {
    for (const char* name : {"ASVspoof2019.LA.cm.train.trn.txt", "ASVspoof2019.LA.cm.dev.trl.txt",
                             "ASVspoof2019.LA.cm.eval.trl.txt"})
      if (auto f = first_file({dir / name}); !f.empty()) protocols.push_back(*protocol_of(f));
  }
  if (protocols.empty())
    throw Error(Status::not_found,
                "asvspoof2019la: no CM protocol ASVspoof2019.LA.cm.*.txt in " + dir.string());

  LayoutCollector c("asvspoof2019la", root, options);
  for (const auto& p : protocols) {
    const std::string audio_dir = "ASVspoof2019_LA_" + p.part + "/flac";
    std::istringstream in(read_text_file(p.file));
    std::string line;
    size_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      const auto f = split_whitespace(line);
      if (f.empty()) continue;
      if (f.size() != 5)
        throw Error(Status::error, at_line(p.file, line_no) +
                                       "expected 5 fields '<speaker> <utt> - <attack> <key>', found " +
                                       std::to_string(f.size()));
      const int label = spoof_label(f[4], p.file, line_no);
      if (label == 0 ? f[3] != "-" : !is_attack_id(f[3]))
        throw Error(Status::error,
                    at_line(p.file, line_no) + "attack '" + f[3] + "' does not fit key " + f[4]);
      c.expect(audio_dir + "/" + f[1] + ".flac", label, p.split,
               {{"source", "asvspoof2019la"}, {"attack", label == 0 ? "bonafide" : f[3]}});
    }
    c.check_extras(audio_dir, {".flac"});
  }
  return c.finish("LA");
}

BenchmarkDataset open_asvspoof2021(const fs::path& root, const BenchmarkOptions& options) {
  auto track = options.version.empty() ? std::string() : lower(trim(options.version));
  if (!track.empty() && track != "la" && track != "df")
    throw Error(Status::error, "asvspoof2021: track '" + options.version + "' is not LA or DF");
  auto keys_of = [&](const std::string& t) {
    const std::string T = t == "la" ? "LA" : "DF";
    return first_file(
        {root / "keys" / T / "CM" / "trial_metadata.txt", root / T / "CM" / "trial_metadata.txt"});
  };
  fs::path keys = options.manifest;
  if (keys.empty()) {
    if (track.empty()) {
      const auto la = keys_of("la"), df = keys_of("df");
      if (!la.empty() && !df.empty())
        throw Error(Status::error,
                    "asvspoof2021: both LA and DF keys under " + root.string() + "; name the track");
      track = la.empty() ? "df" : "la";
    }
    keys = keys_of(track);
    if (keys.empty())
      throw Error(Status::not_found, "asvspoof2021: keys/" + std::string(track == "la" ? "LA" : "DF") +
                                         "/CM/trial_metadata.txt not found under " + root.string());
  } else if (first_file({keys}).empty()) {
    throw Error(Status::not_found, "asvspoof2021: keys not found: " + keys.string());
  }
  const auto subset = options.subset.empty() ? std::string("eval") : lower(trim(options.subset));
  if (subset != "eval" && subset != "progress" && subset != "hidden" && subset != "all")
    throw Error(Status::error,
                "asvspoof2021: subset '" + options.subset + "' is not eval, progress, hidden or all");

  // Audio may sit in one folder or in the DF download's parts: index what is there.
  std::map<std::string, std::string> audio;  // trial id -> path relative to the root
  std::error_code ec;
  std::vector<std::string> audio_dirs;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const auto name = e.path().filename().string();
    if (e.is_directory(ec) && name.rfind("ASVspoof2021_", 0) == 0) {
      for (const auto& flac : {name + "/flac", name + "/" + name.substr(0, name.find("_part")) + "/flac"})
        if (fs::is_directory(root / flac, ec)) audio_dirs.push_back(flac);
    }
  }
  std::sort(audio_dirs.begin(), audio_dirs.end());
  for (const auto& d : audio_dirs)
    for (const auto& f : list_files(root / d))
      if (lower(fs::path(f).extension().string()) == ".flac")
        audio.emplace(fs::path(f).stem().string(), d + "/" + f);

  LayoutCollector c("asvspoof2021", root, options);
  std::istringstream in(read_text_file(keys));
  std::string line;
  size_t line_no = 0;
  size_t columns = 0;
  std::string T;
  std::unordered_set<std::string> named;
  while (std::getline(in, line)) {
    ++line_no;
    const auto f = split_whitespace(line);
    if (f.empty()) continue;
    if (columns == 0) {
      columns = f.size();
      if (columns != 8 && columns != 13)
        throw Error(Status::error, at_line(keys, line_no) + "expected 8 (LA) or 13 (DF) fields, found " +
                                       std::to_string(columns));
      T = columns == 8 ? "LA" : "DF";
      if (!track.empty() && lower(T) != track)
        throw Error(Status::error,
                    at_line(keys, line_no) + "a " + T + " key line in the keys of track " + track);
    }
    if (f.size() != columns)
      throw Error(Status::error, at_line(keys, line_no) + "expected " + std::to_string(columns) +
                                     " fields, found " + std::to_string(f.size()));
    const int label = spoof_label(f[5], keys, line_no);
    if (f[7] != "eval" && f[7] != "progress" && f[7] != "hidden")
      throw Error(Status::error,
                  at_line(keys, line_no) + "subset '" + f[7] + "' is not eval, progress or hidden");
    named.insert(f[1]);
    if (subset != "all" && f[7] != subset) continue;
    Groups g{{"source", "asvspoof2021" + lower(T)}, {"attack", label == 0 ? "bonafide" : f[4]}};
    if (T == "LA") {
      g["codec"] = f[2];
      g["transmission"] = f[3];
    } else {
      g["codec"] = f[2];
      g["corpus"] = f[3];
      g["vocoder"] = f[8];
    }
    const auto it = audio.find(f[1]);
    const std::string rel =
        it != audio.end() ? it->second : "ASVspoof2021_" + T + "_eval/flac/" + f[1] + ".flac";
    c.expect(rel, label, Split::test, std::move(g), it != audio.end());
  }
  if (columns == 0) throw Error(Status::error, keys.string() + ": no trials");
  for (const auto& [id, rel] : audio)
    if (!named.count(id)) c.extra(rel);
  return c.finish(T + ", subset " + subset);
}

BenchmarkDataset open_inthewild(const fs::path& root, const BenchmarkOptions& options) {
  const fs::path meta = options.manifest.empty() ? root / "meta.csv" : options.manifest;
  if (first_file({meta}).empty())
    throw Error(Status::not_found, "inthewild: meta.csv not found: " + meta.string());
  LayoutCollector c("inthewild", root, options);
  std::istringstream in(read_text_file(meta));
  std::string line;
  size_t line_no = 0;
  int file_col = -1, speaker_col = -1, label_col = -1;
  size_t columns = 0;
  while (csv::read_line(in, line, line_no)) {
    if (trim(line).empty()) continue;
    auto fields = csv::split(line, meta.string(), line_no);
    for (auto& f : fields) f = trim(f);
    if (columns == 0) {
      for (size_t i = 0; i < fields.size(); ++i) {
        const auto h = lower(fields[i]);
        if (h == "file") file_col = static_cast<int>(i);
        if (h == "speaker") speaker_col = static_cast<int>(i);
        if (h == "label") label_col = static_cast<int>(i);
      }
      if (file_col < 0 || label_col < 0)
        throw Error(Status::error, at_line(meta, line_no) + "header must name file and label");
      columns = fields.size();
      continue;
    }
    if (fields.size() != columns)
      throw Error(Status::error, at_line(meta, line_no) + "expected " + std::to_string(columns) +
                                     " fields, found " + std::to_string(fields.size()));
    const auto raw = lower(fields[label_col]);
    int label;
    if (raw == "bona-fide" || raw == "bonafide") {
      label = 0;
    } else if (raw == "spoof") {
      label = 1;
    } else {
      throw Error(Status::error,
                  at_line(meta, line_no) + "label '" + fields[label_col] + "' is not bona-fide or spoof");
    }
    Groups g{{"source", "inthewild"}};
    if (speaker_col >= 0) g["speaker"] = fields[speaker_col];
    c.expect(fields[file_col], label, Split::test, std::move(g));
  }
  if (columns == 0) throw Error(Status::error, meta.string() + ": empty");
  std::error_code ec;
  if (options.manifest.empty() || fs::equivalent(meta.parent_path(), root, ec)) c.check_extras("", {".wav"});
  return c.finish("");
}

}  // namespace dfscan::data::detail
