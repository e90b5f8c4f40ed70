// libFuzzer entries for the file formats dfscan parses itself, one executable each (DFSCAN_FUZZ_FORMAT):
//   pth         a torch.save checkpoint, as `dfscan models import` reads it
//   safetensors a model file, as every scan loads it
//   scores      a score CSV, as `dfscan eval --scores` reads it, then the metrics over it; and the
//               same bytes as an ASV score file (--asv-scores), then min t-DCF
//   tar         a tar archive (the harness gzips it), as the WildDeepfake adapter reads it in place
//   manifests   a dataset manifest (the first byte picks which: csv, Celeb-DF list, DFDC metadata.json,
//               labels.csv or dataset.json, ASVspoof 2019/2021 protocols, In-the-Wild meta.csv, FF++
//               split JSON), as `dfscan eval --dataset NAME` reads it
// The readers take paths, so each input is written to one scratch file first. A dfscan::Error with a
// one-line message is the expected outcome for most inputs; anything else escaping, a crash, a
// sanitizer report or a hang past libFuzzer's -timeout is a bug.
#include <unistd.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "dfscan/status.hpp"

#if DFSCAN_FUZZ_FORMAT_pth
#include <ATen/ATen.h>

#include "dfscan/checkpoint.hpp"
constexpr const char* kSuffix = ".pth";
#elif DFSCAN_FUZZ_FORMAT_safetensors
#include <ATen/ATen.h>

#include "dfscan/model_file.hpp"
constexpr const char* kSuffix = ".safetensors";
#elif DFSCAN_FUZZ_FORMAT_scores
#include "dfscan/metrics.hpp"
constexpr const char* kSuffix = ".csv";
#elif DFSCAN_FUZZ_FORMAT_tar
#include "data/benchmark_common.hpp"
#include "dfscan/benchmarks.hpp"
constexpr const char* kSuffix = ".tar.gz";
#elif DFSCAN_FUZZ_FORMAT_manifests
#include "dfscan/benchmarks.hpp"
constexpr const char* kSuffix = ".d";  // a folder: the manifests' names matter
#else
#error "set DFSCAN_FUZZ_FORMAT_<pth|safetensors|scores|tar|manifests>"
#endif

namespace {

// This process's scratch file (a folder for manifests), removed when the process exits.
const std::filesystem::path& scratch() {
  struct Scratch {
    std::filesystem::path path;
    ~Scratch() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Scratch scratch{[] {
    const char* dir = std::getenv("TMPDIR");
    return std::filesystem::path(dir && *dir ? dir : "/tmp") /
           ("dfscan-fuzz-" + std::to_string(::getpid()) + kSuffix);
  }()};
  return scratch.path;
}

void write_scratch(const std::uint8_t* data, std::size_t size) {
  std::ofstream out(scratch(), std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out.flush()) std::abort();  // the harness, not the code under test, failed
}

// A failure must be one dfscan::Error whose message is a single line.
void check_message(const dfscan::Error& e) {
  if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
}

void run(const std::uint8_t* data, std::size_t size);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    run(data, size);
  } catch (const dfscan::Error& e) {
    check_message(e);
  }
  return 0;
}

namespace {

#if DFSCAN_FUZZ_FORMAT_pth
void run(const std::uint8_t* data, std::size_t size) {
  write_scratch(data, size);
  const auto state = dfscan::io::read_pth(scratch());
  for (const auto& [name, tensor] : state) (void)tensor.sum();  // touches every element
}
#elif DFSCAN_FUZZ_FORMAT_safetensors
void run(const std::uint8_t* data, std::size_t size) {
  write_scratch(data, size);
  dfscan::io::ReadOptions options;
  options.require_manifest = false;  // plain safetensors files reach the tensor checks too
  options.verify_hash = true;
  options.to_float32 = (size & 1) != 0;
  const auto model = dfscan::io::read_model_file(scratch(), options);
  for (const auto& [name, tensor] : model.tensors) (void)tensor.sum();
}
#elif DFSCAN_FUZZ_FORMAT_scores
// The input as an ASV score file and as a score CSV, each with a fixed partner for min t-DCF.
void run(const std::uint8_t* data, std::size_t size) {
  namespace eval = dfscan::eval;
  write_scratch(data, size);
  try {
    const auto asv = eval::read_asv_scores(scratch().string());
    (void)eval::min_tdcf_2019({0, 1, 0, 1}, {0.1, 0.9, 0.4, 0.6}, asv);
    (void)eval::min_tdcf_2021({0, 1, 0, 1}, {0.1, 0.9, 0.4, 0.6}, asv);
  } catch (const dfscan::Error& e) {
    check_message(e);
  }
  auto table = eval::read_score_files({scratch().string()});
  eval::EvalOptions options;
  options.bootstrap.resamples = 20;
  (void)eval::evaluate(table.labels, table.scores, options);
  const eval::AsvScores asv{{2.0, 3.0}, {-1.0, 0.0}, {-2.0, 1.0}};
  (void)eval::min_tdcf_2019(table.labels, table.scores, asv);
  (void)eval::min_tdcf_2021(table.labels, table.scores, eval::TdcfCoefficients{1.0, 2.0, 3.0});
  eval::sort_by_path(table);
  (void)eval::score_table_csv(table);
}
#elif DFSCAN_FUZZ_FORMAT_tar
void run(const std::uint8_t* data, std::size_t size) {
  // Fast gzip, so that the fuzzer's mutations land in the tar headers rather than in deflate data.
  gzFile gz = gzopen(scratch().c_str(), "wb1");
  if (!gz) std::abort();
  if (size && gzwrite(gz, data, static_cast<unsigned>(size)) != static_cast<int>(size)) std::abort();
  if (gzclose(gz) != Z_OK) std::abort();
  std::size_t read = 0;
  for (const auto& member : dfscan::data::detail::list_tar_gz(scratch())) {
    if (!member.regular || ++read > 4) continue;
    try {
      (void)dfscan::data::read_archive_member(scratch().string() + "#" + member.name);
    } catch (const dfscan::Error& e) {
      check_message(e);
    }
  }
}
#elif DFSCAN_FUZZ_FORMAT_manifests
struct Manifest {
  const char* benchmark;
  const char* file;         // its name in the scratch folder
  bool folder_is_manifest;  // FF++ takes the folder of its split JSONs
};
constexpr Manifest kManifests[] = {
    {"csv", "dataset.csv", false},
    {"celebdf", "List_of_testing_videos.txt", false},
    {"dfdc", "metadata.json", false},
    {"dfdc", "labels.csv", false},
    {"dfdc", "dataset.json", false},
    {"asvspoof2019la", "ASVspoof2019.LA.cm.eval.trl.txt", false},
    {"asvspoof2021", "trial_metadata.txt", false},
    {"inthewild", "meta.csv", false},
    {"ffpp", "test.json", true},
};

void run(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const std::size_t pick = data[0] % std::size(kManifests);
  const Manifest& m = kManifests[pick];
  // One folder per kind, so that the other kinds' manifests never sit beside this one.
  const auto folder = scratch() / std::to_string(pick);
  std::filesystem::create_directories(folder / "root");
  const auto file = folder / m.file;
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
    if (!out.flush()) std::abort();
  }
  dfscan::data::BenchmarkOptions options;
  options.require_files = false;
  options.keep_missing = true;  // every sample the manifest names comes out
  options.manifest = m.folder_is_manifest ? folder : file;
  const bool csv = std::string(m.benchmark) == "csv";
  const auto opened = dfscan::data::open_benchmark(m.benchmark, csv ? file : folder / "root", options);
  (void)opened.layout.summary();
  (void)opened.dataset.summary();
}
#endif

}  // namespace
