// `dfscan [scan] PATH...`: the main job. Results on stdout (or -o FILE), logs on stderr.
#include "checks.hpp"
#include "dfscan/config.hpp"
#if DFSCAN_WITH_MEDIA
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "command.hpp"
#include "config_file.hpp"
#include "dfscan/json_text.hpp"
#include "dfscan/log.hpp"
#include "dfscan/runtime.hpp"
#include "dfscan/scan.hpp"
#include "dfscan/status.hpp"
#include "exit_codes.hpp"
#include "interrupt.hpp"
#include "output.hpp"
#include "progress.hpp"
#include "scan_inputs.hpp"
#include "stdin_file.hpp"

namespace dfscan::cli {
namespace {
namespace fs = std::filesystem;

struct ScanArgs {
  std::vector<std::string> paths;
  std::string files_from;
  InputOptions inputs;
  ScanOptions scan;
  double threshold = -1.0;
  int threads = 0;
  std::string format;  // empty: text on a TTY, jsonl otherwise
  std::string output;
  std::string shard;
  bool resume = false;
  bool dry_run = false;
  std::vector<std::string> fail_on;
  bool progress = false, no_progress = false;
};

std::string text_line(const nlohmann::json& r) {
  std::ostringstream os;
  const std::string status = r["status"];
  os << r["path"].get<std::string>() << "\t";
  if (status == "ok") {
    // The file's score is one detector's (the fusion rule); name it, since their skills differ.
    std::string decided_by;
    for (const auto& d : r["detectors"])
      if (d["score"] == r["score"]) {
        decided_by = d.value("name", "");
        break;
      }
    os << (r["label"] == "fake" ? "FAKE" : "real") << "\t" << std::fixed << std::setprecision(3)
       << r["score"].get<double>() << (decided_by.empty() ? "" : " by " + decided_by) << " (threshold "
       << std::setprecision(2) << r["threshold"].get<double>() << ", ";
    // What the score was taken over: face tracks, or for a sound file its windows.
    const bool audio = r["modality"] == "audio";
    const auto parts = audio ? r["timeline"].size() : r["tracks"].size();
    os << parts << (audio ? " window" : " face track") << (parts == 1 ? "" : "s") << ")";
  } else {
    os << status;
    if (!r["error"].is_null()) os << "\t" << r["error"].get<std::string>();
  }
  for (const auto& w : r["warnings"]) os << " [" << w.get<std::string>() << "]";
  return os.str();
}

// Running totals for the summary and the exit code; records themselves are not kept, so memory
// stays flat however many files a run scans.
struct Tally {
  std::map<std::string, int> statuses;
  int files = 0, fake = 0, real = 0;
  int exit_code = kExitOk;

  void add(const nlohmann::json& r, const std::set<std::string>& fail_statuses) {
    const std::string s = r["status"];
    ++files;
    ++statuses[s];
    if (r["label"] == "fake") ++fake;
    if (r["label"] == "real") ++real;
    if (is_failure(status_from_string(s).value_or(Status::error)) || fail_statuses.count(s))
      exit_code = worst_exit(exit_code, kExitFailure);
    if (r["label"] == "fake") exit_code = worst_exit(exit_code, kExitFake);
  }
};

// Records already written by an interrupted run: the paths, and the records for the summary.
std::vector<nlohmann::json> read_finished(const fs::path& file) {
  std::vector<nlohmann::json> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      auto j = nlohmann::json::parse(line);
      if (j.value("type", "") == "file") out.push_back(std::move(j));
    } catch (const nlohmann::json::exception&) {
      // A torn last line from a kill mid-write: that file is scanned again.
    }
  }
  return out;
}

// A resumed run adds to records that earlier runs wrote; they must come from the same models, or
// one file would hold two model sets' scores and evaluate as one. A record lists every face and
// image model of its run (audio models only when the file had sound), so the check is: its models
// are this run's, and this run's face and image models are all in it.
void check_resumed_models(const std::vector<nlohmann::json>& finished, const nlohmann::json& models,
                          const fs::path& file) {
  auto key = [](const nlohmann::json& d) { return d.value("name", "") + " (" + d.value("hash", "") + ")"; };
  std::set<std::string> now, now_visual;
  for (const auto& m : models) {
    now.insert(key(m));
    if (m.value("modality", "") != "audio") now_visual.insert(key(m));
  }
  auto list = [](const std::set<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  };
  for (const auto& r : finished) {
    if (!r.contains("detectors") || !r["detectors"].is_array() || r["detectors"].empty()) continue;
    std::set<std::string> then;
    for (const auto& d : r["detectors"]) then.insert(key(d));
    const bool same = std::includes(now.begin(), now.end(), then.begin(), then.end()) &&
                      std::includes(then.begin(), then.end(), now_visual.begin(), now_visual.end());
    if (!same)
      throw CLI::ValidationError("--resume", file.string() + " holds records scored by " + list(then) +
                                                 ", not by this run's " + list(now) +
                                                 "; resume with the same -m, or write a new file");
  }
}

// Rewrites `file` keeping only complete lines, so appends start on a clean line.
void drop_torn_tail(const fs::path& file, const std::vector<nlohmann::json>& records) {
  std::ofstream out(file, std::ios::trunc);
  for (const auto& r : records) out << json_text(r) << "\n";
}

int run_scan(ScanArgs& a) {
  configure_threads(a.threads);
  if (a.threshold >= 0) a.scan.threshold = a.threshold;
  const bool tty_out = ::isatty(STDOUT_FILENO);
  std::string format = a.format.empty() ? (tty_out || !a.output.empty() ? "text" : "jsonl") : a.format;
  if (!a.output.empty() && a.format.empty()) format = "jsonl";
  if (a.resume && a.output.empty()) throw CLI::ValidationError("--resume", "needs -o FILE");
  if (a.resume && format == "json")
    throw CLI::ValidationError("--resume", "--format json is one document and cannot be resumed; use jsonl");

  std::set<std::string> fail_statuses;
  for (const auto& s : a.fail_on) {
    if (!status_from_string(s)) throw CLI::ValidationError("--fail-on", "unknown status '" + s + "'");
    fail_statuses.insert(s);
  }

  auto args = a.paths;
  if (a.files_from == kStdinPath && std::count(args.begin(), args.end(), kStdinPath))
    throw CLI::ValidationError("PATH", "'-' and --files-from - both read standard input");
  if (!a.files_from.empty())
    for (auto& p : read_file_list(a.files_from)) args.push_back(std::move(p));
  if (args.empty())
    throw CLI::ValidationError("PATH", "nothing to scan: give files, folders or --files-from");
  if (a.resume && std::count(args.begin(), args.end(), kStdinPath))
    throw CLI::ValidationError("--resume", "cannot tell whether standard input ('-') was scanned before");
  auto inputs = expand_inputs(args, a.inputs);
  if (!a.shard.empty()) {
    std::pair<std::uint64_t, std::uint64_t> shard;
    try {
      shard = parse_shard(a.shard);
    } catch (const std::exception&) {
      throw CLI::ValidationError("--shard", "expected I/N with 0 <= I < N");
    }
    std::vector<InputFile> mine;
    for (auto& f : inputs)
      if (fnv1a64(f.shard_key) % shard.second == shard.first) mine.push_back(std::move(f));
    inputs = std::move(mine);
  }

  if (a.dry_run) {
    // What this run would scan, after the globs, the shard and --resume; nothing is opened,
    // written or loaded, so a shard plan can be checked before a cluster job.
    std::set<std::string> done;
    if (a.resume) {
      const fs::path partial = a.output + ".partial";
      for (const auto& r : read_finished(fs::exists(partial) ? partial : fs::path(a.output)))
        done.insert(exact_path(r));
    }
    for (const auto& f : inputs)
      if (!done.count(f.path)) std::cout << f.path << '\n';
    return kExitOk;
  }

  // -o FILE: append to FILE.partial as records finish, rename on success.
  fs::path partial;
  std::ofstream file_out;
  std::vector<nlohmann::json> finished;
  if (!a.output.empty()) {
    partial = a.output + ".partial";
    if (a.resume) {
      if (!fs::exists(partial) && fs::exists(a.output)) fs::rename(a.output, partial);
      finished = read_finished(partial);
      drop_torn_tail(partial, finished);
    }
    file_out.open(partial, a.resume ? std::ios::app : std::ios::trunc);
    if (!file_out) throw Error(Status::error, "cannot write " + partial.string());
  }
  std::set<std::string> done_paths;
  for (const auto& r : finished) done_paths.insert(exact_path(r));
  std::vector<std::string> todo;
  for (const auto& f : inputs)
    if (!done_paths.count(f.path)) todo.push_back(f.path);
  const StdinFile stdin_file(todo);
  for (auto& path : todo) path = stdin_file.readable(path);
  if (!finished.empty())
    log::info("resuming: " + std::to_string(finished.size()) + " file(s) already scanned, " +
              std::to_string(todo.size()) + " to go");

  Scanner scanner(a.scan);
  if (!finished.empty()) check_resumed_models(finished, scanner.describe_models(), partial);
  const InterruptGuard interrupt;

  std::ostream& out = a.output.empty() ? std::cout : static_cast<std::ostream&>(file_out);
  const bool progress = !a.no_progress && (a.progress || ::isatty(STDERR_FILENO));
  RecordWriter::Layout layout;
  layout.schema = "dfscan.result/1";
  layout.text = text_line;
  layout.csv_columns = {"path", "status", "label", "score", "threshold", "modality", "error", "warnings"};
  RecordWriter writer(out, parse_output_format(format), layout);
  Tally tally;
  for (const auto& r : finished) tally.add(r, fail_statuses);
  auto start = std::chrono::steady_clock::now();
  ProgressLine progress_line(todo.size(), progress);
  int write_error = 0;  // errno of the first write of the results that failed (a full disk)
  auto check_output = [&] {
    if (write_error || out.good()) return;
    write_error = errno ? errno : EIO;
    InterruptGuard::stop();  // what the other files would say cannot be written either
  };
  scanner.scan(
      todo,
      [&](std::size_t i, nlohmann::json r) {
        stdin_file.restore(r);
        progress_line.clear();  // a text record may go to the same terminal
        writer.write(r);
        check_output();
        tally.add(r, fail_statuses);
        progress_line.update(i + 1, r["path"].get<std::string>());
      },
      &InterruptGuard::flag());
  progress_line.clear();

  const int exit_code = write_error                   ? static_cast<int>(kExitFailure)
                        : InterruptGuard::requested() ? static_cast<int>(kExitInterrupted)
                                                      : tally.exit_code;
  writer.finish(
      {{"files", tally.files},
       {"statuses", tally.statuses},
       {"fake", tally.fake},
       {"real", tally.real},
       {"exit_code", exit_code},
       {"elapsed_ms",
        std::round(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count())}});
  if (format == "text") {
    // The text summary is a log line: stdout carries one line per file only.
    std::cerr << "dfscan: " << tally.files << " file(s): " << tally.fake << " fake, " << tally.real
              << " real";
    for (const auto& [s, n] : tally.statuses)
      if (s != "ok") std::cerr << ", " << n << " " << s;
    std::cerr << "\n";
  }
  out.flush();
  if (!a.output.empty()) file_out.close();
  check_output();  // the summary, or the last buffered bytes, may be what did not fit
  if (write_error) {
    const std::string target = a.output.empty() ? "standard output" : partial.string();
    const std::string why = target + ": " + std::strerror(write_error) + "; stopped after " +
                            std::to_string(tally.files) + " file(s)";
    if (write_error == EPIPE) {
      log::warn("the reader of " + why);  // `dfscan -r DIR | head`: nobody reads the rest
    } else {
      log::error("cannot write the results to " + why +
                 (a.output.empty() ? "" : "; the whole records before are kept, rerun with --resume"));
    }
    return kExitFailure;
  }
  if (!a.output.empty()) {
    if (InterruptGuard::requested()) {
      log::warn("interrupted: partial results kept in " + partial.string() + "; rerun with --resume");
    } else {
      fs::rename(partial, a.output);
    }
  }
  return exit_code;
}

std::function<int()> add_scan(CLI::App& root) {
  auto a = std::make_shared<ScanArgs>();
  auto* s = root.add_subcommand("scan", "Score videos, images and audio files (the default command)");
  s->add_option("paths", a->paths, "Files or folders to scan; - reads one file from standard input");
  s->add_flag("-r,--recursive", a->inputs.recursive, "Descend into sub-folders");
  s->add_option("--files-from", a->files_from,
                "Read paths from FILE (- = stdin), newline- or NUL-separated; # starts a comment line");
  s->add_option("--include", a->inputs.include, "Only files matching this glob (repeatable)")
      ->allow_extra_args(false);
  s->add_option("--exclude", a->inputs.exclude, "Skip files matching this glob (repeatable)")
      ->allow_extra_args(false);
  s->add_option("-m,--model", a->scan.models,
                "Model name or .safetensors path (repeatable; default: shipped models)")
      ->allow_extra_args(false);
  s->add_option("--frames", a->scan.frames, "Frames sampled per video (default: the model's)")
      ->check(kNonNegative);
  s->add_option("--face-margin", a->scan.face_margin, "Margin around a face box, as a fraction of its side")
      ->check(CLI::Range(0.0, 4.0));
  s->add_option("--faces", a->scan.faces,
                "auto: face models see face crops; none: every model sees the whole image")
      ->check(CLI::IsMember({"auto", "none"}));
  s->add_option("--face-detector", a->scan.face_detector,
                "Face detector backend, or a list tried in turn per frame: dlib-hog,lbp-improved (default: "
                "the model's)");
  s->add_option("-t,--threshold", a->threshold, "Decision threshold on P(fake) (default: each model's)")
      ->check(CLI::Range(0.0, 1.0));
  s->add_option("--aggregate", a->scan.aggregate, "Per-file rule over face tracks: mean, max, genconvit-ref")
      ->check(CLI::IsMember({"mean", "max", "genconvit-ref"}));
  s->add_option("--vae-sampling", a->scan.vae_sampling, "GenConViT VAE: mean (deterministic) or reference")
      ->check(CLI::IsMember({"mean", "reference"}));
  s->add_option("--device", a->scan.device, "auto, cpu, cuda or cuda:N")->check(kDevice);
  s->add_option("--batch", a->scan.batch, "Crops per forward pass")->check(kPositive);
  s->add_option("--threads", a->threads, "Intra-op threads (default: every CPU this process may use)")
      ->check(kNonNegative);
  s->add_option("--workers", a->scan.workers, "Files decoded ahead of inference in parallel")
      ->check(kPositive);
  s->add_option("--segment", a->scan.segment_seconds, "Timeline segment length in seconds")->check(kPositive);
  s->add_option("--timeout", a->scan.deadline_seconds, "Per-file decoding time limit in seconds (0: none)")
      ->check(kNonNegative);
  s->add_option("-f,--format", a->format,
                "text, json, jsonl or csv (default: text on a terminal, else jsonl)")
      ->check(CLI::IsMember({"text", "json", "jsonl", "csv"}));
  s->add_option("-o,--output", a->output, "Write results to FILE (atomically; FILE.partial while running)");
  s->add_option("--shard", a->shard, "Scan only shard I of N (I/N), by a stable hash of each path");
  s->add_flag("--resume", a->resume, "Skip files already in -o FILE (or FILE.partial)");
  s->add_flag("--dry-run", a->dry_run,
              "Print the files this run would scan (after --include/--exclude, --shard and --resume), one a "
              "line, and exit");
  s->add_option("--fail-on", a->fail_on, "Statuses that also count as failures, e.g. no_face,not_scored")
      ->delimiter(',')
      ->allow_extra_args(false);
  s->add_flag("--progress", a->progress, "Show progress on stderr even when it is not a terminal");
  s->add_flag("--no-progress", a->no_progress, "Never show progress");
  attach_environment_and_config(*s, "scan");
  return [a]() { return run_scan(*a); };
}

}  // namespace
DFSCAN_COMMAND("scan", add_scan);
}  // namespace dfscan::cli
#endif
