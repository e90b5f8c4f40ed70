// The face-crop cache: see include/dfscan/face_cache.hpp for the layout and the resume rules.
#include "dfscan/face_cache.hpp"

#include <caffe2/serialize/inline_container.h>
#include <fcntl.h>
#include <sys/file.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "dfscan/atomic_file.hpp"
#include "dfscan/config.hpp"
#include "dfscan/cpus.hpp"
#include "dfscan/csv.hpp"
#include "dfscan/dataset.hpp"
#include "dfscan/json_text.hpp"
#include "dfscan/log.hpp"
#include "dfscan/status.hpp"
#include "dfscan/text.hpp"
#if DFSCAN_WITH_MEDIA
#include "dfscan/faces.hpp"
#include "dfscan/media.hpp"
#endif

namespace dfscan::data {

#if DFSCAN_WITH_MEDIA
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "dfscan.face-cache/1";
constexpr const char* kShardDir = "shards";

// The scanner's rule (CONVENTIONS.md): explicit option > model manifest > built-in default.
faces::FaceSetup resolve_face_setup(const FaceCacheOptions& o) {
  auto s = faces::face_setup_from_manifest(o.model_manifest);
  if (o.frames > 0) s.frames = o.frames;
  if (o.size > 0) s.input_size = o.size;
  if (!o.detector.empty()) s.detector = o.detector;
  if (o.margin >= 0) s.margin = static_cast<float>(o.margin);
  if (s.frames < 1) throw Error(Status::error, "--frames must be at least 1");
  if (s.input_size < 8 || s.input_size > 4096) throw Error(Status::error, "--size must be in [8, 4096]");
  if (!(s.margin >= 0 && s.margin <= 4)) throw Error(Status::error, "--face-margin must be in [0, 4]");
  return s;
}

// What the cache records and hashes of a face setup. FaceSetup keeps the margin as a float; the
// record keeps its decimal value (0.3, not 0.30000001192092896).
json settings_json(const faces::FaceSetup& s) {
  return {{"format", kFormat},
          {"detector", s.detector},
          {"margin", std::round(static_cast<double>(s.margin) * 1e6) / 1e6},
          {"square", s.square},
          {"frames", s.frames},
          {"size", s.input_size},
          {"tracker", "default"}};
}

// FNV-1a 64 of the settings' canonical JSON text: what journal entries are matched on.
std::string settings_hash(const json& settings) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : settings.dump()) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char out[32];
  std::snprintf(out, sizeof out, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return out;
}

// Identity of a source file's content as far as the cache cares: size and modification time.
struct SourceStamp {
  int64_t size = -1;
  int64_t mtime_ns = 0;
  bool operator==(const SourceStamp& o) const { return size == o.size && mtime_ns == o.mtime_ns; }
};

std::optional<SourceStamp> stamp_of(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return std::nullopt;
  const auto mtime = fs::last_write_time(path, ec);
  if (ec) return std::nullopt;
  return SourceStamp{static_cast<int64_t>(size),
                     std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count()};
}

struct CropInfo {
  int track = 0;
  int frame = 0;  // index into the sampled frames
  double t = 0.0;
  std::array<float, 4> box{};  // x, y, w, h in frame pixels
};

// One source file's outcome, as the journal stores it.
struct Entry {
  std::string source;
  SourceStamp stamp;
  std::string settings;
  Status status = Status::ok;
  std::string message;
  int frames_sampled = 0;
  std::string shard;  // relative to the cache folder; empty without crops
  int64_t row = 0;    // first row in the shard
  std::vector<CropInfo> crops;

  json to_json() const {
    json c = json::array();
    for (const auto& k : crops) c.push_back({k.track, k.frame, k.t, k.box[0], k.box[1], k.box[2], k.box[3]});
    json j = {{"source", source},
              {"size", stamp.size},
              {"mtime_ns", stamp.mtime_ns},
              {"settings", settings},
              {"status", to_string(status)},
              {"message", message},
              {"frames_sampled", frames_sampled},
              {"shard", shard},
              {"row", row},
              {"crops", c}};
    // JSON holds UTF-8 only: a Latin-1 name keeps its bytes here, or resuming would redo it.
    if (!valid_utf8(source)) j["source_bytes"] = base64_encode(source);
    return j;
  }

  static Entry from_json(const json& j) {
    Entry e;
    e.source = j.contains("source_bytes") ? base64_decode(j.at("source_bytes").get<std::string>())
                                          : j.at("source").get<std::string>();
    e.stamp.size = j.at("size").get<int64_t>();
    e.stamp.mtime_ns = j.at("mtime_ns").get<int64_t>();
    e.settings = j.at("settings").get<std::string>();
    const auto status = status_from_string(j.at("status").get<std::string>());
    if (!status) throw std::runtime_error("unknown status");
    e.status = *status;
    e.message = j.value("message", "");
    e.frames_sampled = j.value("frames_sampled", 0);
    e.shard = j.value("shard", "");
    e.row = j.value("row", int64_t{0});
    for (const auto& c : j.at("crops")) {
      CropInfo k;
      k.track = c.at(0).get<int>();
      k.frame = c.at(1).get<int>();
      k.t = c.at(2).get<double>();
      for (size_t i = 0; i < 4; ++i) k.box[i] = c.at(3 + i).get<float>();
      e.crops.push_back(k);
    }
    return e;
  }
};

// Reads the journal; the latest entry per source wins. A torn or unreadable line (a run killed
// mid-append) is skipped: its file is simply extracted again.
std::map<std::string, Entry> read_journal(const fs::path& path) {
  std::map<std::string, Entry> entries;
  std::ifstream in(path);
  std::string line;
  size_t line_no = 0, bad = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    try {
      auto e = Entry::from_json(json::parse(line));
      entries[e.source] = std::move(e);
    } catch (const std::exception&) {
      ++bad;
    }
  }
  if (bad)
    log::warn(path.string() + ": skipped " + std::to_string(bad) + " unreadable line(s); redoing them");
  return entries;
}

// An exclusive lock on the cache folder for the run's lifetime: two runs would interleave shards.
class FolderLock {
 public:
  explicit FolderLock(const fs::path& dir) {
    const auto path = dir / ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(Status::error, "cannot create " + path.string());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw Error(Status::error, "another extract-faces run is using " + dir.string());
    }
  }
  ~FolderLock() { ::close(fd_); }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

std::string shard_name(int id) {
  char name[32];
  std::snprintf(name, sizeof name, "shard-%06d.pth", id);
  return name;
}

// shard-NNNNNN.pth -> NNNNNN; -1 for other names.
int shard_id(const std::string& name) {
  int id = -1;
  char tail = 0;
  if (std::sscanf(name.c_str(), "shard-%d.pt%c", &id, &tail) == 2 && tail == 'h' && name == shard_name(id))
    return id;
  return -1;
}

// {"images": uint8 [N,S,S,3]} in torch.save's zip format (what SampleReader and torch.load read).
// Not torch::pickle_save: it tags the dict with torch.jit's restore_type_tag, a global that
// io::read_pth's state-dict-only unpickler (rightly) refuses.
void write_shard(const fs::path& path, const at::Tensor& images) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  dict.insert("images", images.contiguous());
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&](const char* p, size_t n) { pickle.insert(pickle.end(), p, p + n); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr,
                              /*memoized_class_types=*/nullptr, /*get_tensor_id=*/nullptr,
                              /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(c10::IValue(dict));
  pickler.stop();
  std::string bytes;
  {
    caffe2::serialize::PyTorchStreamWriter zip([&](const void* p, size_t n) {
      bytes.append(static_cast<const char*>(p), n);
      return n;
    });
    zip.writeRecord("data.pkl", pickle.data(), pickle.size());
    const auto& tensors = pickler.tensorData();
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto data = torch::jit::getWriteableTensorData(tensors[i]);
      zip.writeRecord("data/" + std::to_string(i), data.data(), data.sizeInBytes());
    }
    zip.writeEndOfFile();
  }
  write_file_atomic(path, bytes);
}

std::string join_csv(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) line += ',';
    line += csv::field(fields[i]);
  }
  return line + "\n";
}

// What one worker hands back for a file: the entry (without shard/row yet) and its crops.
struct Extracted {
  Entry entry;
  std::vector<at::Tensor> crops;  // uint8 [S,S,3] each, in entry.crops order
};

// Decode, detect, track and crop one file, as the scanner does, keeping every tracked face.
Extracted extract_file(const std::string& path, faces::FaceDetectorPool& pool,
                       const faces::FaceSetup& setup) {
  Extracted out;
  auto& e = out.entry;
  auto fail = [&](Status status, const std::string& message) {
    e.status = status;
    e.message = one_line(message);
    return out;
  };
  try {
    // Files already run in parallel, so each decodes on one thread.
    auto sampled = faces::sample_frames(path, setup.frames, media::Limits{}, /*decode_threads=*/1);
    if (sampled.status != Status::ok) return fail(sampled.status, sampled.message);
    const auto& frames = sampled.frames;
    const auto& times = sampled.times;
    e.frames_sampled = static_cast<int>(frames.size());
    const auto tracks = faces::track_faces(pool.detect(frames), times);
    for (const auto& track : tracks) {
      for (const auto& tf : track.frames) {
        const cv::Mat crop =
            faces::crop_face(frames[static_cast<size_t>(tf.frame_index)], tf.face.box, setup);
        if (crop.empty()) continue;
        auto t = torch::empty({crop.rows, crop.cols, 3}, torch::kUInt8);
        for (int y = 0; y < crop.rows; ++y)
          std::memcpy(t.data_ptr<uint8_t>() + static_cast<int64_t>(y) * crop.cols * 3, crop.ptr<uint8_t>(y),
                      static_cast<size_t>(crop.cols) * 3);
        out.crops.push_back(std::move(t));
        const auto& b = tf.face.box;
        e.crops.push_back({track.id, tf.frame_index, tf.t, {b.x, b.y, b.width, b.height}});
      }
    }
    if (out.crops.empty())
      return fail(Status::no_face, "no face found in " + std::to_string(frames.size()) + " sampled frame(s)");
  } catch (const Error& err) {
    out.crops.clear();
    e.crops.clear();
    return fail(err.status(), err.what());
  } catch (const std::exception& err) {
    out.crops.clear();
    e.crops.clear();
    return fail(Status::error, err.what());
  }
  return out;
}

// Collects finished files and writes them out: shard first, then their journal lines, so that a
// journal line never names a shard that is not complete on disk.
class ShardWriter {
 public:
  ShardWriter(const fs::path& root, int next_id, int rows, std::ofstream& journal)
      : root_(root), next_id_(next_id), rows_(rows), journal_(journal) {}

  void add(Extracted&& x) {
    pending_rows_ += x.crops.size();
    pending_.push_back(std::move(x));
    if (pending_rows_ >= static_cast<size_t>(rows_) || pending_.size() >= 1024) flush();
  }

  // Returns the entries written so far (with their shard and row).
  std::vector<Entry>& written() { return written_; }
  size_t shards_written() const { return shards_written_; }

  void flush() {
    if (pending_.empty()) return;
    std::string shard;
    if (pending_rows_ > 0) {
      shard = std::string(kShardDir) + "/" + shard_name(next_id_++);
      std::vector<at::Tensor> rows;
      rows.reserve(pending_rows_);
      for (auto& x : pending_)
        for (auto& c : x.crops) rows.push_back(c);
      write_shard(root_ / shard, torch::stack(rows));
      ++shards_written_;
    }
    int64_t row = 0;
    for (auto& x : pending_) {
      if (!x.crops.empty()) {
        x.entry.shard = shard;
        x.entry.row = row;
        row += static_cast<int64_t>(x.crops.size());
      }
      journal_ << json_text(x.entry.to_json()) << '\n';
      written_.push_back(std::move(x.entry));
    }
    journal_.flush();
    if (!journal_) throw Error(Status::error, "cannot append to the cache journal");
    pending_.clear();
    pending_rows_ = 0;
  }

 private:
  fs::path root_;
  int next_id_;
  int rows_;
  std::ofstream& journal_;
  std::vector<Extracted> pending_;
  size_t pending_rows_ = 0;
  std::vector<Entry> written_;
  size_t shards_written_ = 0;
};

}  // namespace

FaceCacheSummary extract_faces(const FaceCacheOptions& o) {
  if (o.output.empty()) throw Error(Status::error, "extract-faces needs an output folder");
  if (o.shard_rows < 1) throw Error(Status::error, "--shard-rows must be at least 1");
  const auto setup = resolve_face_setup(o);
  const json settings = settings_json(setup);
  const auto hash = settings_hash(settings);
  const auto dataset = open_dataset(o.data_spec);

  const fs::path root = o.output;
  fs::create_directories(root / kShardDir);
  FolderLock lock(root);

  // Leftover temporaries of a killed shard write, and the next free shard number.
  int next_id = 1;
  {
    std::error_code ec;
    std::vector<fs::path> temporaries;
    for (const auto& entry : fs::directory_iterator(root / kShardDir)) {
      const auto name = entry.path().filename().string();
      if (name.find(".tmp.") != std::string::npos) temporaries.push_back(entry.path());
      next_id = std::max(next_id, shard_id(name) + 1);
    }
    for (const auto& p : temporaries) fs::remove(p, ec);
  }

  const auto journal_path = root / "journal.jsonl";
  auto entries = read_journal(journal_path);

  // The dataset's distinct files, in dataset order.
  std::vector<const Sample*> files;
  {
    std::set<std::string> seen;
    for (const auto& s : dataset)
      if (seen.insert(s.path).second) files.push_back(&s);
  }

  FaceCacheSummary summary;
  summary.files = files.size();
  summary.settings = settings.dump();
  std::vector<size_t> todo;
  std::vector<std::optional<SourceStamp>> stamps(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    stamps[i] = stamp_of(files[i]->path);
    const auto it = entries.find(files[i]->path);
    if (it == entries.end()) {
      todo.push_back(i);
      continue;
    }
    const auto& e = it->second;
    std::error_code ec;
    const bool current = stamps[i] && e.stamp == *stamps[i] && e.settings == hash &&
                         e.status != Status::error && (e.shard.empty() || fs::exists(root / e.shard, ec));
    if (current) {
      ++summary.reused;
    } else {
      ++summary.stale;
      todo.push_back(i);
    }
  }
  log::info("extract-faces: " + std::to_string(files.size()) + " files, " + std::to_string(summary.reused) +
            " up to date, " + std::to_string(todo.size()) + " to extract (" + std::to_string(summary.stale) +
            " stale); settings " + settings.dump());

  std::ofstream journal(journal_path, std::ios::app);
  if (!journal) throw Error(Status::error, "cannot open " + journal_path.string());
  {
    // A run killed mid-append left a torn last line; end it so the next entry starts a line.
    std::ifstream tail(journal_path, std::ios::binary | std::ios::ate);
    if (tail && tail.tellg() > 0) {
      tail.seekg(-1, std::ios::end);
      if (tail.get() != '\n') journal << '\n';
    }
  }
  ShardWriter writer(root, next_id, o.shard_rows, journal);

  int workers = o.workers > 0 ? o.workers : usable_cpus();
  workers = std::max(1, std::min<int>(workers, static_cast<int>(std::max<size_t>(todo.size(), 1))));
  std::vector<std::unique_ptr<faces::FaceDetectorPool>> pools;
  for (int w = 0; w < workers; ++w)
    pools.push_back(std::make_unique<faces::FaceDetectorPool>(setup.detector, faces::DetectorOptions{}, 1));

  // Batches of files run in parallel and are handed to the writer in dataset order, so a cache
  // built with any number of workers has the same shards.
  const size_t batch = static_cast<size_t>(workers) * 4;
  for (size_t start = 0; start < todo.size(); start += batch) {
    const size_t end = std::min(todo.size(), start + batch);
    std::vector<Extracted> results(end - start);
    std::atomic<size_t> next{start};
    auto work = [&](int w) {
      for (size_t k = next++; k < end; k = next++) {
        const auto i = todo[k];
        auto x = extract_file(files[i]->path, *pools[static_cast<size_t>(w)], setup);
        x.entry.source = files[i]->path;
        // Stamped before extraction: a file changed meanwhile is redone next run, never missed.
        x.entry.stamp = stamps[i].value_or(SourceStamp{});
        x.entry.settings = hash;
        results[k - start] = std::move(x);
      }
    };
    std::vector<std::thread> threads;
    for (int w = 1; w < workers; ++w) threads.emplace_back(work, w);
    work(0);
    for (auto& t : threads) t.join();
    for (auto& x : results) {
      ++summary.extracted;
      if (o.progress)
        o.progress(std::to_string(summary.extracted) + "/" + std::to_string(todo.size()) + " " +
                   x.entry.source + ": " + to_string(x.entry.status) + " (" + std::to_string(x.crops.size()) +
                   " crops)");
      writer.add(std::move(x));
    }
  }
  writer.flush();
  journal.close();
  summary.shards_written = writer.shards_written();
  for (auto& e : writer.written()) entries[e.source] = std::move(e);

  // index.csv (one row per crop) and files.csv (one row per file), from the current dataset.
  std::set<std::string> group_keys;
  for (const auto* s : files)
    for (const auto& [k, v] : s->groups) group_keys.insert(k);
  for (const char* own : {"source", "track", "frame"}) group_keys.erase(own);
  std::vector<std::string> header = {"path", "label", "split"};
  header.insert(header.end(), group_keys.begin(), group_keys.end());
  for (const char* own : {"source", "track", "frame"}) header.emplace_back(own);
  std::string index = join_csv(header);
  std::string files_csv =
      join_csv({"source", "label", "split", "status", "crops", "frames_sampled", "message"});
  for (const auto* s : files) {
    const auto& e = entries.at(s->path);
    for (size_t c = 0; c < e.crops.size(); ++c) {
      std::vector<std::string> row = {e.shard + "#" + std::to_string(e.row + static_cast<int64_t>(c)),
                                      std::to_string(s->label), to_string(s->split)};
      for (const auto& k : group_keys) {
        const auto g = s->groups.find(k);
        row.push_back(g == s->groups.end() ? "" : g->second);
      }
      row.push_back(s->path);
      row.push_back(std::to_string(e.crops[c].track));
      row.push_back(std::to_string(e.crops[c].frame));
      index += join_csv(row);
      ++summary.crops;
    }
    files_csv += join_csv({s->path, std::to_string(s->label), to_string(s->split), to_string(e.status),
                           std::to_string(e.crops.size()), std::to_string(e.frames_sampled), e.message});
    if (e.status == Status::ok) {
      ++summary.ok;
    } else if (e.status == Status::no_face) {
      ++summary.no_face;
    } else if (is_failure(e.status)) {
      ++summary.failed;
    }
  }
  summary.index = root / "index.csv";
  write_file_atomic(summary.index, index);
  write_file_atomic(root / "files.csv", files_csv);

  // Compact the journal (entries of files outside this dataset stay: a later run may want them),
  // then delete shards that no entry uses any more.
  std::set<std::string> used;
  std::string compact;
  for (const auto& [source, e] : entries) {
    compact += json_text(e.to_json()) + "\n";
    if (!e.shard.empty()) used.insert(e.shard);
  }
  write_file_atomic(journal_path, compact);
  {
    std::error_code ec;
    std::vector<fs::path> unused;
    for (const auto& entry : fs::directory_iterator(root / kShardDir)) {
      const auto name = entry.path().filename().string();
      if (shard_id(name) >= 0 && !used.count(std::string(kShardDir) + "/" + name))
        unused.push_back(entry.path());
    }
    for (const auto& p : unused)
      if (fs::remove(p, ec)) ++summary.shards_removed;
  }

  const json info = {{"format", kFormat},
                     {"settings", settings},
                     {"settings_hash", hash},
                     {"model", o.model},
                     {"data", dataset.source()},
                     {"summary",
                      {{"files", summary.files},
                       {"ok", summary.ok},
                       {"no_face", summary.no_face},
                       {"failed", summary.failed},
                       {"crops", summary.crops},
                       {"extracted_this_run", summary.extracted},
                       {"reused", summary.reused},
                       {"stale", summary.stale}}}};
  write_file_atomic(root / "cache.json", json_text(info, 2) + "\n");
  return summary;
}

#else

FaceCacheSummary extract_faces(const FaceCacheOptions&) {
  throw Error(Status::unsupported,
              "extract-faces needs the media build (DFSCAN_WITH_MEDIA=ON) to decode video and detect faces; "
              "build the cache there and copy it: training reads its shards without media");
}

#endif

}  // namespace dfscan::data
